#!/usr/bin/env python3
"""The PyTorch side of `benchmarks/train_command_bench.sh`: the reference's `train.py` loop end to
end on a dataset folder — PIL decoding and `get_transform` (resize 286 bicubic, random crop 256,
random flip, ToTensor, Normalize 0.5) in a DataLoader with the reference's 4 worker processes and
shuffling, `optimize_parameters` of `benchmarks/peer_pytorch_train.py`, the learning-rate step
and `latest_net_*.pth` saved at every epoch's end, as `gantry train` does.

    /work/torchenv/bin/python benchmarks/peer_reference_train.py --model pix2pix --data D --epochs 2

(The reference itself is not run: its repository snapshot is too large to fetch here, and it
needs visdom/dominate/wandb for reporting; this is its loop with the same parts.) Prints one JSON
line: wall seconds from the first line of the script to the end, iterations, peak RSS.
"""

import time

T0 = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools" / "fixtures"))

import peer_pytorch_train as P  # noqa: E402


def transform(img, params, load=286, crop=256):
    img = img.resize((load, load), Image.BICUBIC)
    x, y, flip = params
    img = img.crop((x, y, x + crop, y + crop))
    if flip:
        img = img.transpose(Image.FLIP_LEFT_RIGHT)
    a = np.asarray(img, dtype=np.float32) / 255.0
    return torch.from_numpy(a.transpose(2, 0, 1).copy()) * 2 - 1


def params(load=286, crop=256):
    return random.randint(0, load - crop), random.randint(0, load - crop), random.random() > 0.5


class Aligned(torch.utils.data.Dataset):
    def __init__(self, root):
        self.files = sorted(str(p) for p in Path(root, "train").iterdir())

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        ab = Image.open(self.files[i]).convert("RGB")
        w, h = ab.size
        p = params()
        return transform(ab.crop((0, 0, w // 2, h)), p), transform(ab.crop((w // 2, 0, w, h)), p)


class Unaligned(torch.utils.data.Dataset):
    def __init__(self, root):
        self.a = sorted(str(p) for p in Path(root, "trainA").iterdir())
        self.b = sorted(str(p) for p in Path(root, "trainB").iterdir())

    def __len__(self):
        return max(len(self.a), len(self.b))

    def __getitem__(self, i):
        a = Image.open(self.a[i % len(self.a)]).convert("RGB")
        b = Image.open(self.b[random.randint(0, len(self.b) - 1)]).convert("RGB")
        return transform(a, params()), transform(b, params())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["cyclegan", "pix2pix"], required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--run", required=True)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    names, nets, opts, step = P.build(args.model)
    data = Unaligned(args.data) if args.model == "cyclegan" else Aligned(args.data)
    rule = lambda e: 1.0 - max(0, e + 1 - 100) / float(100 + 1)  # noqa: E731  (linear, 100 + 100)
    scheds = [torch.optim.lr_scheduler.LambdaLR(o, lr_lambda=rule) for o in opts]
    loader = torch.utils.data.DataLoader(data, batch_size=1, shuffle=True, num_workers=4)
    os.makedirs(args.run, exist_ok=True)
    iterations = 0
    for _ in range(args.epochs):
        for A, B in loader:
            step(nets, opts, A, B)
            iterations += 1
        for s in scheds:
            s.step()
        for name, net in zip(names, nets):
            torch.save(net.state_dict(), os.path.join(args.run, f"latest_net_{name}.pth"))
    print(json.dumps(dict(engine=f"pytorch {torch.__version__} (reference loop)", model=args.model, threads=args.threads,
                          iterations=iterations, wall_s=time.perf_counter() - T0,
                          peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)))


if __name__ == "__main__":
    main()
