#!/usr/bin/env python3
"""PyTorch eager side of `benchmarks/train_bench.sh`: seconds per training iteration and peak RSS
of one reference training step, in this process alone.

    /work/torchenv/bin/python benchmarks/peer_pytorch_train.py --model cyclegan --threads 2 --runs 5

cyclegan: 2× resnet_9blocks (ngf 64, instance norm) + 2× basic D (ndf 64), lsgan, λ 10/10,
identity 0.5, 256×256, batch 1 — the reference's `optimize_parameters` (G step with D frozen,
Adam; D_A + D_B, Adam). pix2pix: unet_256 (batch norm, dropout) + basic D on cat(A, B), vanilla,
λ_L1 100: D step first, then G. Networks are the definitions the fixtures use
(tools/fixtures/reference_nets.py, make_training_fixtures.py), init normal 0.02. Prints one
JSON line.
"""

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools" / "fixtures"))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

import reference_nets as R  # noqa: E402
from make_training_fixtures import NLayerDiscriminator  # noqa: E402


def gan(mode, pred, real):
    t = torch.full_like(pred, 1.0 if real else 0.0)
    return nn.functional.mse_loss(pred, t) if mode == "lsgan" else nn.functional.binary_cross_entropy_with_logits(pred, t)


def cyclegan_step(nets, opts, A, B):
    G_A, G_B, D_A, D_B = nets
    opt_G, opt_D = opts
    fake_B = G_A(A); rec_A = G_B(fake_B); fake_A = G_B(B); rec_B = G_A(fake_A)
    for p in list(D_A.parameters()) + list(D_B.parameters()):
        p.requires_grad_(False)
    opt_G.zero_grad()
    l1 = nn.functional.l1_loss
    loss = (l1(G_A(B), B) * 5 + l1(G_B(A), A) * 5 + gan("lsgan", D_A(fake_B), True) + gan("lsgan", D_B(fake_A), True)
            + l1(rec_A, A) * 10 + l1(rec_B, B) * 10)
    loss.backward()
    opt_G.step()
    for p in list(D_A.parameters()) + list(D_B.parameters()):
        p.requires_grad_(True)
    opt_D.zero_grad()
    ((gan("lsgan", D_A(B), True) + gan("lsgan", D_A(fake_B.detach()), False)) * 0.5).backward()
    ((gan("lsgan", D_B(A), True) + gan("lsgan", D_B(fake_A.detach()), False)) * 0.5).backward()
    opt_D.step()


def pix2pix_step(nets, opts, A, B):
    G, D = nets
    opt_G, opt_D = opts
    fake = G(A)
    for p in D.parameters():
        p.requires_grad_(True)
    opt_D.zero_grad()
    ((gan("vanilla", D(torch.cat((A, fake), 1).detach()), False) + gan("vanilla", D(torch.cat((A, B), 1)), True)) * 0.5).backward()
    opt_D.step()
    for p in D.parameters():
        p.requires_grad_(False)
    opt_G.zero_grad()
    (gan("vanilla", D(torch.cat((A, fake), 1)), True) + nn.functional.l1_loss(fake, B) * 100).backward()
    opt_G.step()


def build(model):
    """The recipe's networks (reference names), initialised (normal 0.02) in train mode, their
    two Adam optimizers (G's, D's) and the step function."""
    if model == "cyclegan":
        names = ["G_A", "G_B", "D_A", "D_B"]
        nets = [R.ResnetGenerator(3, 3, 64, "instance", False, 9), R.ResnetGenerator(3, 3, 64, "instance", False, 9),
                NLayerDiscriminator(3, 64, 3, "instance"), NLayerDiscriminator(3, 64, 3, "instance")]
        groups, step = [nets[0:2], nets[2:4]], cyclegan_step
    else:
        names = ["G", "D"]
        nets = [R.UnetGenerator(3, 3, 8, 64, "batch", True), NLayerDiscriminator(6, 64, 3, "batch")]
        groups, step = [nets[0:1], nets[1:2]], pix2pix_step
    for net in nets:
        R.init_reference(net, 1)
        net.train()
    opts = [torch.optim.Adam([p for n in g for p in n.parameters()], lr=2e-4, betas=(0.5, 0.999)) for g in groups]
    return names, nets, opts, step


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["cyclegan", "pix2pix"], required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--size", type=int, default=256)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    _, nets, opts, step = build(args.model)
    A = torch.rand(1, 3, args.size, args.size) * 2 - 1
    B = torch.rand(1, 3, args.size, args.size) * 2 - 1
    times = []
    for i in range(args.warmup + args.runs):
        t0 = time.perf_counter()
        step(nets, opts, A, B)
        if i >= args.warmup:
            times.append(time.perf_counter() - t0)
    print(json.dumps(dict(engine=f"pytorch {torch.__version__}", model=args.model, threads=args.threads,
                          size=args.size, runs=args.runs, median_s=statistics.median(times), min_s=min(times),
                          peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)))


if __name__ == "__main__":
    main()
