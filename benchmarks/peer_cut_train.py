#!/usr/bin/env python3
"""PyTorch side of the CUT/FastCUT training benchmark: seconds per `optimize_parameters` of the
CUT repository's own `CUTModel` (taesungp/contrastive-unpaired-translation, not vendored) and
this process's peak RSS.

    git clone https://github.com/taesungp/contrastive-unpaired-translation /tmp/cut
    /work/torchenv/bin/python benchmarks/peer_cut_train.py --cut-repo /tmp/cut --mode CUT --threads 2 --runs 3

The repository's defaults (resnet_9blocks with anti-aliasing, basic D, instance norm, lsgan,
PatchSampleF 256 patches on layers 0,4,8,12,16, netF_nc 256; FastCUT: λ_NCE 10, no NCE identity,
flips), 256×256, batch 1, CPU (--gpu_ids -1), random images. `data_dependent_initialize` runs
first (it builds F), then one untimed warm-up iteration. Prints one JSON line like
`gantry bench-train`.
"""
import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
import types
from pathlib import Path

import torch


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cut-repo", required=True)
    p.add_argument("--mode", default="CUT", choices=["CUT", "FastCUT"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--size", type=int, default=256)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    sys.path.insert(0, str(Path(a.cut_repo).resolve()))
    try:
        import torchvision  # noqa: F401
    except Exception:
        # Imported at the top of util/ and data/ but not used by the training step.
        tv, transforms = types.ModuleType("torchvision"), types.ModuleType("torchvision.transforms")
        tv.transforms = transforms
        sys.modules.update({"torchvision": tv, "torchvision.transforms": transforms})
    from options.train_options import TrainOptions
    from models import create_model

    tmp = tempfile.mkdtemp()
    sys.argv = ["train.py", "--dataroot", tmp, "--name", "bench", "--checkpoints_dir", tmp, "--gpu_ids", "-1",
                "--CUT_mode", a.mode, "--crop_size", str(a.size), "--load_size", str(a.size)]
    import contextlib, io
    with contextlib.redirect_stdout(io.StringIO()):
        opt = TrainOptions().parse()
        model = create_model(opt)
    g = torch.Generator().manual_seed(1)
    data = {"A": torch.rand(1, 3, a.size, a.size, generator=g) * 2 - 1, "B": torch.rand(1, 3, a.size, a.size, generator=g) * 2 - 1,
            "A_paths": ["a"], "B_paths": ["b"]}
    model.data_dependent_initialize(data)
    model.set_input(data)
    times = []
    for i in range(a.runs + 1):
        t = time.perf_counter()
        model.optimize_parameters()
        if i > 0:
            times.append(time.perf_counter() - t)
    print(json.dumps({"engine": f"pytorch {torch.__version__} (CUT repository's CUTModel)", "model": a.mode.lower(), "size": a.size,
                      "runs": a.runs, "threads": a.threads, "median_s": statistics.median(times), "min_s": min(times),
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}, sort_keys=True))


if __name__ == "__main__":
    main()
