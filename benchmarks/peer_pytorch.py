#!/usr/bin/env python3
"""PyTorch peer for `gantry bench`: eager fp32 CPU forward passes of the reference
generators with random weights.

    python benchmarks/peer_pytorch.py --threads 2 --runs 5 --warmup 1 \\
        [--sizes 256x256,1024x768] [--nets resnet_9blocks,unet_256] [--json]

Nets (definitions from tools/fixtures/reference_nets.py):
  resnet_9blocks  ngf 64, InstanceNorm, no dropout (CycleGAN pretrained layout)
  unet_256        ngf 64, BatchNorm in train mode (batch statistics, as the reference
                  test.py runs it), dropout layers present but disabled (pix2pix layout)
  resnet_6blocks, unet_128 are also accepted.

Sizes are WxH (1024x768 = width 1024, height 768); tensors are N,C,H,W with N=1.
The U-Nets need H and W divisible by 2**num_downs (256 for unet_256); other sizes are
skipped with a message on stderr.

Per net/size it reports the median and minimum wall time of `runs` timed forward passes
(after `warmup` untimed ones) under torch.inference_mode(), images/s (1/median), GFLOP
(sum over Conv2d of 2*Cin*Cout*k^2*Hout*Wout and over ConvTranspose2d of
2*Cin*Cout*k^2*Hin*Win, counted with hooks on a meta-device copy), and the peak RSS of
the process (resource.getrusage ru_maxrss; `baseline_rss_mb` is the peak right after
`import torch`, about 0.5 GB for CUDA builds of torch, so the net's own footprint is
peak_rss_mb - baseline_rss_mb). By default every net/size runs in its own
subprocess so the peak RSS belongs to that configuration alone; --no-isolate runs all
in this process (peak RSS is then cumulative).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools" / "fixtures"))

NETS = {
    # name: (family, arch)
    "resnet_9blocks": ("resnet", dict(input_nc=3, output_nc=3, ngf=64, norm="instance",
                                      dropout=False, n_blocks=9)),
    "resnet_6blocks": ("resnet", dict(input_nc=3, output_nc=3, ngf=64, norm="instance",
                                      dropout=False, n_blocks=6)),
    "unet_256": ("unet", dict(input_nc=3, output_nc=3, ngf=64, norm="batch", dropout=True,
                              num_downs=8)),
    "unet_128": ("unet", dict(input_nc=3, output_nc=3, ngf=64, norm="batch", dropout=True,
                              num_downs=7)),
}


def parse_sizes(text: str) -> list[tuple[int, int]]:
    sizes = []
    for part in text.split(","):
        part = part.strip().lower()
        if not part:
            continue
        w, _, h = part.partition("x")
        sizes.append((int(w), int(h)))
    return sizes


def size_ok(net: str, width: int, height: int) -> str | None:
    family, arch = NETS[net]
    if family == "unet":
        m = 1 << arch["num_downs"]
        if width % m or height % m:
            return f"{net} needs width and height divisible by {m}"
    return None


def gflop(net_name: str, width: int, height: int) -> float:
    import torch
    import reference_nets as R
    family, arch = NETS[net_name]
    with torch.device("meta"):
        net = R.build(family, arch)
        x = torch.empty(1, arch["input_nc"], height, width)
    R.set_reference_test_mode(net)
    return R.conv_flops(net, x) / 1e9


def run_one(net_name: str, width: int, height: int, threads: int, runs: int, warmup: int,
            seed: int) -> dict:
    import torch
    import reference_nets as R
    baseline_kb = _maxrss_kb()  # after importing torch, before building anything
    torch.set_num_threads(threads)
    family, arch = NETS[net_name]
    flops = gflop(net_name, width, height)
    net = R.build(family, arch)
    R.init_reference(net, seed)
    R.set_reference_test_mode(net)  # BN: batch statistics; Dropout: off
    g = torch.Generator().manual_seed(seed + 1)
    x = torch.rand(1, arch["input_nc"], height, width, generator=g) * 2 - 1
    times = []
    with torch.inference_mode():
        for _ in range(warmup):
            y = net(x)
        for _ in range(runs):
            t0 = time.perf_counter()
            y = net(x)
            times.append(time.perf_counter() - t0)
    assert y.shape[-2:] == (height, width) or family == "resnet", y.shape
    med = statistics.median(times)
    rss_kb = _maxrss_kb()
    return dict(net=net_name, width=width, height=height, threads=threads, runs=runs,
                median_s=round(med, 6), min_s=round(min(times), 6),
                images_per_s=round(1.0 / med, 4), gflop=round(flops, 3),
                peak_rss_mb=round(rss_kb / 1024, 1), torch_version=torch.__version__,
                baseline_rss_mb=round(baseline_kb / 1024, 1))


def _maxrss_kb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return kb / 1024 if sys.platform == "darwin" else kb  # bytes on macOS


def human(r: dict) -> str:
    return (f"{r['net']:15s} {r['width']}x{r['height']:<5d} threads={r['threads']} runs={r['runs']}: "
            f"median {r['median_s']:.4f} s, min {r['min_s']:.4f} s, {r['images_per_s']:.3f} img/s, "
            f"{r['gflop']:.2f} GFLOP ({r['gflop'] / r['median_s']:.1f} GFLOP/s), "
            f"peak RSS {r['peak_rss_mb']:.0f} MB (after import torch: {r['baseline_rss_mb']:.0f} MB)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--sizes", default="256x256,1024x768", help="comma-separated WxH list")
    ap.add_argument("--nets", default="resnet_9blocks,unet_256",
                    help=f"comma-separated, from {', '.join(NETS)}")
    ap.add_argument("--json", action="store_true", help="one JSON object per line")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-isolate", action="store_true",
                    help="run every configuration in this process (peak RSS is cumulative)")
    ap.add_argument("--_child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.runs < 1 or a.warmup < 0 or a.threads < 1:
        ap.error("need runs >= 1, warmup >= 0, threads >= 1")

    nets = [n.strip() for n in a.nets.split(",") if n.strip()]
    for n in nets:
        if n not in NETS:
            ap.error(f"unknown net {n!r}; known: {', '.join(NETS)}")
    sizes = parse_sizes(a.sizes)

    if a._child:
        (n,), ((w, h),) = nets, sizes
        print(json.dumps(run_one(n, w, h, a.threads, a.runs, a.warmup, a.seed)), flush=True)
        return 0

    status = 0
    for n in nets:
        for w, h in sizes:
            why = size_ok(n, w, h)
            if why:
                print(f"skip {n} {w}x{h}: {why}", file=sys.stderr)
                continue
            if a.no_isolate:
                r = run_one(n, w, h, a.threads, a.runs, a.warmup, a.seed)
            else:
                cmd = [sys.executable, os.path.abspath(__file__), "--_child", "--nets", n,
                       "--sizes", f"{w}x{h}", "--threads", str(a.threads), "--runs", str(a.runs),
                       "--warmup", str(a.warmup), "--seed", str(a.seed)]
                p = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
                if p.returncode != 0:
                    print(f"error: {n} {w}x{h} failed (exit {p.returncode})", file=sys.stderr)
                    status = 1
                    continue
                r = json.loads(p.stdout.strip().splitlines()[-1])
            print(json.dumps(r) if a.json else human(r), flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
