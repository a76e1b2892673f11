#!/usr/bin/env python3
"""The PyTorch flow users run today, as the peer of `gantry convert` in benchmarks/convert_bench.sh.

Like the reference test.py with --preprocess none on images whose sides are multiples of 4: one
image at a time, PIL decode -> ToTensor -> Normalize(0.5, 0.5) -> generator (eager fp32, no_grad)
-> tensor2im (truncating uint8) -> PIL PNG save. The caller times the whole command, start-up and
model loading included, as it does for gantry.

    python benchmarks/convert_peer_pytorch.py --input DIR --output DIR --checkpoint resnet9.pth --threads 2
"""
import argparse
import os
import sys

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "fixtures"))
import reference_nets  # noqa: E402  (our PyTorch definitions of the reference networks)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--input", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--blocks", type=int, default=9)
    p.add_argument("--ngf", type=int, default=64)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    net = reference_nets.ResnetGenerator(3, 3, a.ngf, norm="instance", use_dropout=False, n_blocks=a.blocks)
    net.load_state_dict(torch.load(a.checkpoint, map_location="cpu", weights_only=True))
    os.makedirs(a.output, exist_ok=True)
    names = sorted(n for n in os.listdir(a.input) if n.lower().endswith((".jpg", ".jpeg", ".png")))
    with torch.no_grad():
        for name in names:
            img = Image.open(os.path.join(a.input, name)).convert("RGB")
            x = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1)
            x = ((x - 0.5) / 0.5).unsqueeze(0)
            y = net(x)
            out = (np.transpose(y[0].numpy(), (1, 2, 0)) + 1) / 2.0 * 255.0
            Image.fromarray(out.astype(np.uint8)).save(os.path.join(a.output, os.path.splitext(name)[0] + ".png"))


if __name__ == "__main__":
    main()
