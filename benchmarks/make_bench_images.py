#!/usr/bin/env python3
"""Inputs for the end-to-end convert benchmark: photo-like JPEGs and a full-size random-weight
generator checkpoint. Deterministic for a given seed. Needs numpy and Pillow (and torch for
--checkpoint).

    python benchmarks/make_bench_images.py --out DIR --count 8 --size 256x256 [--seed 0]
    python benchmarks/make_bench_images.py --checkpoint resnet9.pth [--seed 0]

Images: JPEG quality 90 (4:2:0), named bench_0000.jpg, ... Each is a random colour field with
the spectrum of natural photos (1/f noise: large areas vary slowly, fine texture is faint), a
few hard-edged shapes (ellipses, polygons, bars) blended over it and slightly blurred, then fine
grain (Gaussian, sigma 3 levels): not pure noise, so JPEG sizes and decode work are close to
those of real photos.

Checkpoint: a resnet_9blocks generator (ngf 64, InstanceNorm without affine, no dropout, reflect
padding: the CycleGAN pretrained layout, 11,378,179 parameters) with the reference
init_weights('normal', 0.02): conv weights N(0, 0.02), biases 0. Saved with torch.save of the
state_dict (zip format), as the reference saves latest_net_G_A.pth. --blocks and --ngf give
other resnet sizes.
"""

from __future__ import annotations

import argparse
import os
import sys


def parse_size(text: str) -> tuple[int, int]:
    w, sep, h = text.lower().partition("x")
    if not sep:
        raise argparse.ArgumentTypeError(f"size must be WxH, got {text!r}")
    try:
        size = int(w), int(h)
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be WxH, got {text!r}") from None
    if min(size) < 8:
        raise argparse.ArgumentTypeError("width and height must be at least 8")
    return size


def photo_like(width: int, height: int, rng) -> "Image.Image":
    import numpy as np
    from PIL import Image, ImageDraw, ImageFilter

    # 1. a natural-looking field: 1/f noise (amplitude spectrum falling as 1/f, as in photos),
    #    channels partly correlated, plus a vertical light gradient
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    f = np.sqrt(fx * fx + fy * fy)
    f[0, 0] = 1.0
    amp = 1.0 / f ** 1.25
    amp[0, 0] = 0.0
    planes = []
    for _ in range(3):
        spec = np.fft.rfft2(rng.normal(0.0, 1.0, (height, width))) * amp
        p = np.fft.irfft2(spec, s=(height, width))
        planes.append(p / p.std())
    luma = planes[0]
    field = np.stack([0.75 * luma + 0.25 * planes[1], 0.8 * luma + 0.2 * planes[2], 0.7 * luma + 0.3 * planes[1] * -1], axis=-1)
    field = field * rng.uniform(30, 50) + rng.uniform(80, 160, 3)
    field += np.linspace(25, -25, height)[:, None, None]
    img = Image.fromarray(np.clip(field, 0, 255).astype(np.uint8), "RGB")

    # 2. hard edges: a few shapes in flat-ish colours
    overlay = img.copy()
    draw = ImageDraw.Draw(overlay)
    s = min(width, height)
    for _ in range(int(rng.integers(4, 9))):
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        kind = rng.integers(0, 3)
        x0, y0 = float(rng.uniform(-0.1, 1.0) * width), float(rng.uniform(-0.1, 1.0) * height)
        if kind == 0:
            r = float(rng.uniform(0.05, 0.35) * s)
            draw.ellipse((x0, y0, x0 + r * rng.uniform(0.6, 1.6), y0 + r), fill=colour)
        elif kind == 1:
            pts = [(x0 + float(rng.normal(0, 0.2 * s)), y0 + float(rng.normal(0, 0.2 * s))) for _ in range(int(rng.integers(3, 7)))]
            draw.polygon(pts, fill=colour)
        else:
            bw = float(rng.uniform(0.02, 0.12) * width)
            draw.rectangle((x0, 0, x0 + bw, height), fill=colour)  # a pole, a tree trunk, a wall edge
    img = Image.blend(img, overlay, float(rng.uniform(0.45, 0.75)))
    img = img.filter(ImageFilter.GaussianBlur(0.7))

    # 3. grain
    a = np.asarray(img, dtype=np.float64) + rng.normal(0.0, 3.0, (height, width, 3))
    return Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8), "RGB")


def write_images(out: str, count: int, size: tuple[int, int], seed: int) -> list[str]:
    import numpy as np
    os.makedirs(out, exist_ok=True)
    paths = []
    for i in range(count):
        rng = np.random.default_rng([seed, i])  # image i is the same whatever the count
        path = os.path.join(out, f"bench_{i:04d}.jpg")
        photo_like(size[0], size[1], rng).save(path, quality=90)
        paths.append(path)
    return paths


def write_checkpoint(path: str, seed: int, blocks: int, ngf: int) -> int:
    import torch
    import torch.nn as nn
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "fixtures"))
    import reference_nets as R

    net = R.ResnetGenerator(3, 3, ngf, norm="instance", use_dropout=False, n_blocks=blocks)
    R.init_reference(net, seed)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    torch.save(net.state_dict(), path)  # zip format (torch >= 1.6 default)
    return R.param_count(net)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", help="folder for the JPEGs")
    ap.add_argument("--count", type=int, default=8)
    ap.add_argument("--size", type=parse_size, default=(256, 256), help="WxH, e.g. 1024x768")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--checkpoint", metavar="PATH", help="write a random-weight resnet generator here")
    ap.add_argument("--blocks", type=int, default=9, help="resnet blocks for --checkpoint (default 9)")
    ap.add_argument("--ngf", type=int, default=64, help="ngf for --checkpoint (default 64)")
    a = ap.parse_args(argv)
    if not a.out and not a.checkpoint:
        ap.error("give --out DIR (images), --checkpoint PATH, or both")
    if a.count < 0:
        ap.error("--count must be >= 0")
    if a.out:
        paths = write_images(a.out, a.count, a.size, a.seed)
        total = sum(os.path.getsize(p) for p in paths)
        bpp = 8 * total / max(1, len(paths) * a.size[0] * a.size[1])
        print(f"wrote {len(paths)} JPEGs of {a.size[0]}x{a.size[1]} to {a.out} "
              f"({total / 1024:.0f} KiB, {bpp:.2f} bits/pixel)")
    if a.checkpoint:
        n = write_checkpoint(a.checkpoint, a.seed, a.blocks, a.ngf)
        print(f"wrote {a.checkpoint}: resnet_{a.blocks}blocks ngf {a.ngf} instance norm, {n:,} parameters, "
              f"{os.path.getsize(a.checkpoint) / 2**20:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
