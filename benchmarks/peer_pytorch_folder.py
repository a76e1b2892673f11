#!/usr/bin/env python3
"""The PyTorch flow users run today over a folder, as the end-to-end peer of `gantry convert`.

    python benchmarks/peer_pytorch_folder.py --input DIR --output DIR --checkpoint model.pth \\
        [--threads 2] [--json] [--preprocess native|none] [--net resnet_9blocks --ngf 64 --norm instance]

What it does is the reference test.py pipeline (junyanz/pytorch-CycleGAN-and-pix2pix, --model
test, batch size 1), one image at a time, in file-name order:

    PIL.Image.open(path).convert('RGB')
    -> ToTensor (HWC uint8 -> CHW float32 / 255) -> Normalize((0.5,)*3, (0.5,)*3)
    (a generator with input_nc 1 gets transforms.Grayscale(1), i.e. convert('L'), first)
    -> generator forward, eager fp32 on the CPU, torch.set_num_threads(threads), inference_mode
    -> tensor2im: ((np.transpose(t[0].numpy(), (1, 2, 0)) + 1) / 2.0 * 255.0).astype(np.uint8)
    -> Image.fromarray(...).save(OUTPUT/<stem>.png)

Every .jpg/.jpeg/.png directly in DIR is converted (not recursive). --preprocess native keeps
each image at its own size (give it images whose sides are multiples of 4, as
make_bench_images.py writes); --preprocess none is the reference's: sides rounded to the nearest
multiple of 4 (Python round) with a PIL bicubic resize.

The generator comes from tools/fixtures/reference_nets.py (our definitions of the reference
networks). Its architecture is read from the checkpoint's keys the way Gantry reads it (resnet:
blocks = number of model.N.conv_block groups, ngf = model.1.weight.shape[0], norm batch if
model.2.weight exists, instance if model.1.bias exists, else none; unet: depth from the nested
model.model.1... levels) unless --net/--ngf/--norm are given. The state_dict goes through the
loader rules a portable loader applies (module./_orig_mod. prefixes stripped, stale
InstanceNorm running stats dropped). Networks are put in the reference's default test mode
(no --eval): BatchNorm uses the statistics of the image, Dropout is disabled here so runs are
deterministic; --eval uses running statistics instead.

Timing: `wall_s` runs from this interpreter's start (read from /proc/self/stat, 10 ms
resolution, so it includes Python start-up and `import torch`) to the last PNG written; the
phases are `startup_s` (to the first line of this script), `import_s`, `model_s` (reading the
checkpoint, building the net) and `convert_s` (all images). `images_per_s` = images / wall_s,
as a user experiences a one-off command; `steady_images_per_s` = images / convert_s. wall_s
stops before the interpreter's shutdown (about 1 s more with torch loaded), so for the fairest
comparison with gantry also time the whole command from outside, as benchmarks/convert_bench.sh
does. `peak_rss_mb` is ru_maxrss of this process.

Checked: on samples/photos with samples/models/tiny_resnet.pth, the PNGs of the images whose
sides are multiples of 4 equal `gantry convert`'s to within 1 level (under 0.01 % of values).
"""

import time

_T_SCRIPT = time.perf_counter()  # before any heavy import

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXTENSIONS = (".jpg", ".jpeg", ".png")


def process_age_s() -> float | None:
    """Seconds since this process started (Linux), or None where /proc is missing."""
    try:
        with open("/proc/self/stat") as f:
            stat = f.read()
        start_ticks = int(stat[stat.rindex(")") + 2:].split()[19])  # field 22, starttime
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


_AGE_AT_SCRIPT = process_age_s()


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--input", required=True, help="folder of .jpg/.jpeg/.png images")
    ap.add_argument("--output", required=True, help="folder for the PNGs (created)")
    ap.add_argument("--checkpoint", required=True, help="generator state_dict (.pth)")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--preprocess", choices=("native", "none"), default="native",
                    help="native: keep sizes (default); none: the reference's round-to-multiple-of-4 resize")
    ap.add_argument("--net", help="resnet_Nblocks or unet_128/unet_256 (default: read from the keys)")
    ap.add_argument("--ngf", type=int, help="default: read from the keys")
    ap.add_argument("--norm", choices=("instance", "batch", "none"), help="default: read from the keys")
    ap.add_argument("--eval", action="store_true", help="eval mode (BatchNorm running statistics)")
    a = ap.parse_args(argv)
    if a.threads < 1:
        ap.error("--threads must be >= 1")
    return a


def count_blocks(keys, container: str, block: str) -> int:
    found = set()
    for k in keys:
        parts = k.split(".")
        if len(parts) > 3 and parts[0] == container and parts[2] == block and parts[1].isdigit():
            found.add(int(parts[1]))
    return len(found)


def detect(sd, net: str | None, ngf: int | None, norm: str | None):
    """(family, arch dict for reference_nets.build), as Gantry's ArchitectureDetection reads it."""
    keys = list(sd.keys())
    if net:
        if net.startswith("resnet_") and net.endswith("blocks"):
            family = "resnet"
        elif net in ("unet_128", "unet_256"):
            family = "unet"
        else:
            raise SystemExit(f"unsupported --net {net!r}: resnet_Nblocks, unet_128 or unet_256")
    elif "model.model.0.weight" in sd:
        family = "unet"
    elif "model.1.weight" in sd:
        family = "resnet"
    else:
        raise SystemExit(f"not a pix2pix/CycleGAN generator: {len(keys)} keys starting {keys[:4]}")

    if family == "resnet":
        blocks = int(net[len("resnet_"):-len("blocks")]) if net else count_blocks(keys, "model", "conv_block")
        stem = sd["model.1.weight"].shape
        last = sd[f"model.{17 + blocks}.weight"].shape
        auto_norm = "batch" if "model.2.weight" in sd else ("instance" if "model.1.bias" in sd else "none")
        dropout = blocks > 0 and "model.10.conv_block.6.weight" in sd
        arch = dict(input_nc=stem[1], output_nc=last[0], ngf=ngf or stem[0], norm=norm or auto_norm,
                    dropout=dropout, n_blocks=blocks)
        name = f"resnet_{blocks}blocks"
    else:
        first = sd["model.model.0.weight"].shape
        last = sd["model.model.3.weight"].shape
        prefix, downs = "model.model.1.model.", 1
        while f"{prefix}1.weight" in sd:
            downs += 1
            prefix += "3.model."
        if net:
            downs = {"unet_128": 7, "unet_256": 8}[net]
        auto_norm = "batch" if "model.model.1.model.2.weight" in sd else (
            "instance" if "model.model.0.bias" in sd else "none")
        arch = dict(input_nc=first[1], output_nc=last[1], ngf=ngf or first[0], norm=norm or auto_norm,
                    dropout=True, num_downs=downs)
        name = f"unet_{2 ** downs}"
    return family, arch, name


def strip_prefixes(key: str) -> str:
    """DataParallel's module. and torch.compile's _orig_mod., as often as they repeat."""
    while True:
        for p in ("module.", "_orig_mod."):
            if key.startswith(p):
                key = key[len(p):]
                break
        else:
            return key


def make_power_2(img, base: int = 4):
    """The reference's __make_power_2 for --preprocess none."""
    from PIL import Image
    ow, oh = img.size
    h = int(round(oh / base) * base)
    w = int(round(ow / base) * base)
    if h == oh and w == ow:
        return img
    return img.resize((w, h), Image.BICUBIC)


def main(argv=None) -> int:
    a = parse_args(argv)

    t_import = time.perf_counter()
    import numpy as np
    import torch
    from PIL import Image
    import PIL
    sys.path.insert(0, os.path.join(ROOT, "tools", "fixtures"))
    import reference_nets as R
    t_model = time.perf_counter()

    torch.set_num_threads(a.threads)
    sd = torch.load(a.checkpoint, map_location="cpu", weights_only=True)
    if hasattr(sd, "_metadata"):
        del sd._metadata
    sd = {strip_prefixes(k): v for k, v in sd.items()}
    family, arch, name = detect(sd, a.net, a.ngf, a.norm)
    net = R.build(family, arch)
    net.load_state_dict(R.normalize_state_dict(net, sd))
    if a.eval:
        net.eval()
    else:
        R.set_reference_test_mode(net)
    del sd

    names = sorted(n for n in os.listdir(a.input)
                   if n.lower().endswith(EXTENSIONS) and os.path.isfile(os.path.join(a.input, n)))
    os.makedirs(a.output, exist_ok=True)
    t_convert = time.perf_counter()
    pixels = 0
    warned = False
    with torch.inference_mode():
        for n in names:
            img = Image.open(os.path.join(a.input, n)).convert("RGB")
            if arch["input_nc"] == 1:
                img = img.convert("L")  # transforms.Grayscale(1), as the reference does for input_nc 1
            if a.preprocess == "none":
                img = make_power_2(img)
            elif (img.size[0] % 4 or img.size[1] % 4) and not warned:
                print(f"note: {n} is {img.size[0]}x{img.size[1]}, not a multiple of 4: the ResNet's output "
                      "comes out rounded up (use --preprocess none for the reference's resize)", file=sys.stderr)
                warned = True
            # ToTensor: HWC uint8 -> CHW float32 in [0, 1]; Normalize(0.5, 0.5)
            a8 = np.array(img, dtype=np.uint8)
            x = torch.from_numpy(a8[:, :, None] if a8.ndim == 2 else a8).permute(2, 0, 1).contiguous()
            x = x.to(dtype=torch.float32).div(255)
            x = x.sub_(0.5).div_(0.5).unsqueeze(0)
            y = net(x)
            # tensor2im (util/util.py), then save_image
            out = y[0].cpu().float().numpy()
            if out.shape[0] == 1:
                out = np.tile(out, (3, 1, 1))
            out = (np.transpose(out, (1, 2, 0)) + 1) / 2.0 * 255.0
            Image.fromarray(out.astype(np.uint8)).save(os.path.join(a.output, os.path.splitext(n)[0] + ".png"))
            pixels += img.size[0] * img.size[1]
    t_end = time.perf_counter()

    startup = _AGE_AT_SCRIPT if _AGE_AT_SCRIPT is not None else 0.0
    wall = startup + (t_end - _T_SCRIPT)
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if sys.platform == "darwin":
        rss_kb /= 1024
    count = len(names)
    r = dict(
        images=count, megapixels=round(pixels / 1e6, 3), net=name, arch=arch, threads=a.threads,
        preprocess=a.preprocess,
        wall_s=round(wall, 4), startup_s=round(startup, 4) if _AGE_AT_SCRIPT is not None else None,
        import_s=round(t_model - t_import, 4), model_s=round(t_convert - t_model, 4),
        convert_s=round(t_end - t_convert, 4),
        images_per_s=round(count / wall, 4) if wall > 0 else None,
        steady_images_per_s=round(count / (t_end - t_convert), 4) if count else None,
        peak_rss_mb=round(rss_kb / 1024, 1),
        torch_version=torch.__version__, pillow_version=PIL.__version__,
    )
    if a.json:
        print(json.dumps(r))
    else:
        print(f"{count} images ({r['megapixels']} MP) with {name} ngf {arch['ngf']} {arch['norm']}, "
              f"{a.threads} threads: {r['wall_s']:.2f} s from process start "
              f"(start-up {r['startup_s']}, imports {r['import_s']:.2f}, model {r['model_s']:.2f}, "
              f"images {r['convert_s']:.2f} s); {r['images_per_s']} img/s overall, "
              f"{r['steady_images_per_s']} img/s steady; peak RSS {r['peak_rss_mb']:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
