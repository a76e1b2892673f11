#!/usr/bin/env python3
"""Cost model of data-parallel training (docs/scaling.md): time per iteration and scaling
efficiency for N machines, from a measured compute time per iteration and the gradient bytes.

    t(N) = t_compute(images per rank) + t_allreduce(N)
    t_allreduce(N) = 2 (N-1)/N * S / (goodput * link) + k (N-1) * alpha   (ring bandwidth term; k messages)
    efficiency(N) = t(1) / t(N) at the same images per rank (weak scaling: global batch = N x per rank)

Only the standard library. Inputs are arguments; what docs/scaling.md records was printed with
the defaults below (they are the measured figures named there).
"""
import argparse

p = argparse.ArgumentParser()
p.add_argument("--compute-s", type=float, required=True, help="seconds per iteration of one rank at --per-rank images")
p.add_argument("--bytes", type=float, required=True, help="gradient bytes summed per iteration (all optimizer steps)")
p.add_argument("--per-rank", type=int, default=1)
p.add_argument("--gbit", type=float, nargs="+", default=[10, 25])
p.add_argument("--goodput", type=float, default=0.9, help="fraction of line rate TCP delivers")
p.add_argument("--alpha-us", type=float, default=50, help="latency per message, microseconds")
p.add_argument("--messages", type=int, default=8, help="messages per rank per iteration per peer step (2 all-reduces × alltoall+allgather, status, BN)")
p.add_argument("--ranks", type=int, nargs="+", default=[2, 4, 8, 16, 32, 64])
a = p.parse_args()

print(f"| N | " + " | ".join(f"{g:g} Gb/s: s/iter, efficiency" for g in a.gbit) + " |")
print("|---|" + "---|" * len(a.gbit))
for n in a.ranks:
    cells = []
    for g in a.gbit:
        bw = g * 1e9 / 8 * a.goodput
        t_ar = 2 * (n - 1) / n * a.bytes / bw + a.messages * (n - 1) * a.alpha_us * 1e-6
        t = a.compute_s + t_ar
        cells.append(f"{t:.3f}, {a.compute_s / t:.0%}")
    print(f"| {n} | " + " | ".join(cells) + " |")
