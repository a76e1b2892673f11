#!/usr/bin/env python3
"""CPU engines a user could pick instead of Gantry, timed like `gantry bench`: PyTorch eager,
ONNX Runtime, OpenVINO and ncnn (converted by pnnx); fp32, random weights, batch 1.

    python benchmarks/peer_engines.py --threads 2 --runs 5 --warmup 1 [--sizes 256x256,1024x768] \\
        [--nets resnet_9blocks,unet_256] [--engines torch,onnxruntime,openvino,ncnn] \\
        [--max-isa avx2] [--work DIR] [--json]

Needs torch onnx onnxruntime openvino ncnn pnnx (PyPI). Nets, sizes, GFLOP and the seeded random
weights are peer_pytorch.py's. Per net/size a child process exports the net in the reference test
mode to --work (default $TMPDIR/gantry-peer-engines/NET_WxH_seedS, never in the repository):
model.onnx (opset 17), model.ncnn.param/.bin (pnnx fp16=0: fp32 weights), PyTorch eager's outputs.
The U-Nets' BatchNorm uses batch statistics (reference test.py), which an eval-mode export would
replace by running statistics; the exported graph has InstanceNorm2d(affine) with BN's weight,
bias and eps instead, the same computation for a batch of one (checked at export).

Every engine/net/size runs in its own process (the parent never imports torch: a child inherits
its parent's RSS high-water mark at exec), with T threads:
  torch        net(x) in torch.inference_mode(), set_num_threads(T)
  onnxruntime  session.run: CPU EP, intra_op T, inter_op 1, sequential, ORT_ENABLE_ALL
  openvino     infer_request.infer: INFERENCE_NUM_THREADS T, LATENCY hint, precision hint f32
  ncnn         extractor input+extract: num_threads T, no Vulkan, fp16/bf16 off, rest default
               (Winograd and sgemm convolution on, so its GFLOP/s can exceed the direct-conv peak)
Timed: `runs` calls on the constant 0.1 input of `gantry bench`, after `warmup` untimed ones; not
timed: export, load/compile, the check run, output conversion. baseline_rss_mb is the peak after
importing the engine, peak_rss_mb at the end; other_load is the mean number of cores kept busy by
other processes during the timed runs (/proc/stat; above ~0.1 the timings are disturbed).

Check: the output on a seeded random input in [-1, 1] against PyTorch eager's
(max_abs_diff_vs_torch; above 1e-3 "mismatch": true and a warning on stderr). The constant input
is useless for it: after reflection padding the ResNets' maps are constant per channel and
InstanceNorm amplifies rounding noise, so their output on it is noise (max_abs_diff_const_input).

--max-isa avx2 sets ATEN_CPU_CAPABILITY=avx2, DNNL_/ONEDNN_MAX_CPU_ISA=AVX2 (oneDNN in torch and
OpenVINO) and OV_CPU_MAX_ISA=AVX2 (OpenVINO's own kernels, e.g. MVN). isa_cap_honoured is read
back: torch's ATen capability and oneDNN verbose kernel names, OpenVINO's exec-graph primitive
types ("partial" if some still name avx512). ONNX Runtime (MLAS) and ncnn pick kernels by CPUID
with no override: false. Without --max-isa the key is absent.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from peer_pytorch import NETS, ROOT, _maxrss_kb, gflop, parse_sizes, size_ok

ENGINES = ("torch", "onnxruntime", "openvino", "ncnn")
ISA_ENV = {"avx2": {"ATEN_CPU_CAPABILITY": "avx2", "DNNL_MAX_CPU_ISA": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2",
                    "OV_CPU_MAX_ISA": "AVX2"}}
TOLERANCE = 1e-3


def inputs(width: int, height: int, seed: int):
    import numpy as np
    rng = np.random.default_rng(seed + 1)
    check = rng.random((1, 3, height, width), dtype=np.float32) * 2 - 1
    return np.full((1, 3, height, width), 0.1, np.float32), check


def reference_net(net_name: str, seed: int):
    import reference_nets as R
    family, arch = NETS[net_name]
    net = R.build(family, arch)
    R.init_reference(net, seed)
    return R.set_reference_test_mode(net)  # BN: batch statistics; Dropout: off


def prepare(net_name: str, width: int, height: int, seed: int, case: Path) -> None:
    """Export the net for every engine and store PyTorch eager's outputs (runs in a child)."""
    import copy
    import warnings
    import numpy as np
    import pnnx
    import torch
    warnings.filterwarnings("ignore")
    case.mkdir(parents=True, exist_ok=True)
    net = reference_net(net_name, seed)
    const, check = (torch.from_numpy(x) for x in inputs(width, height, seed))
    dep = copy.deepcopy(net).eval()  # BN (batch statistics, N=1) -> InstanceNorm(affine), same weights
    for mod in list(dep.modules()):
        for name, bn in list(mod.named_children()):
            if isinstance(bn, torch.nn.BatchNorm2d):
                inorm = torch.nn.InstanceNorm2d(bn.num_features, eps=bn.eps, affine=True)
                inorm.load_state_dict({"weight": bn.weight, "bias": bn.bias})
                setattr(mod, name, inorm)
    with torch.no_grad():
        ref_check, ref_const = net(check).numpy(), net(const).numpy()
        d = float(np.abs(dep(check).numpy() - ref_check).max())
    if d > 1e-5:
        raise SystemExit(f"exported graph differs from the reference net by {d}")
    np.save(case / "ref_check.npy", ref_check)
    np.save(case / "ref_const.npy", ref_const)
    torch.onnx.export(dep, (const,), str(case / "model.onnx"), opset_version=17, dynamo=False,
                      input_names=["input"], output_names=["output"])
    torch.jit.trace(dep, const).save(str(case / "model.pt"))
    p = subprocess.run([pnnx.EXEC_PATH, "model.pt", f"inputshape=[1,3,{height},{width}]", "fp16=0"],
                       cwd=case, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0 or not (case / "model.ncnn.param").exists():
        raise SystemExit(f"pnnx failed (exit {p.returncode}):\n{p.stdout[-2000:]}")
    for f in ("model.pt", "model.pnnx.bin", "model.pnnx.param", "model.pnnx.onnx", "model_pnnx.py", "model_ncnn.py"):
        (case / f).unlink(missing_ok=True)
    (case / "meta.json").write_text(json.dumps(dict(
        gflop=round(gflop(net_name, width, height), 3), torch_version=torch.__version__,
        pnnx_version=getattr(pnnx, "__version__", "?"))))


def _capture_fd1(fn):
    """fn() with file descriptor 1 sent to a temp file (where oneDNN verbose prints)."""
    import ctypes
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile(mode="w+") as tmp:
        os.dup2(tmp.fileno(), 1)
        try:
            result = fn()
        finally:
            ctypes.CDLL(None).fflush(None)
            os.dup2(saved, 1)
            os.close(saved)
        tmp.seek(0)
        return result, tmp.read()


def _cpu_busy_s() -> float | None:
    """CPU seconds the whole machine has spent busy (Linux /proc/stat), for other_load."""
    try:
        v = [int(x) for x in open("/proc/stat").readline().split()[1:9]]
        return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait
    except (OSError, ValueError, IndexError):
        return None


def load_engine(engine: str, net_name: str, case: Path, threads: int, seed: int):
    """-> (baseline_kb, version, infer(x) -> output, output -> ndarray, isa_report() -> (note, capped?))."""
    import numpy as np
    has512 = os.path.exists("/proc/cpuinfo") and any(
        "avx512f" in l.split() for l in open("/proc/cpuinfo") if l.startswith("flags"))
    if engine == "torch":
        import torch
        import reference_nets  # noqa: F401  (the baseline includes what the net needs)
        base = _maxrss_kb()
        torch.set_num_threads(threads)
        net, log = reference_net(net_name, seed), []

        def infer(x):
            with torch.inference_mode():
                if log:
                    return net(torch.from_numpy(x))
                with torch.backends.mkldnn.verbose(torch.backends.mkldnn.VERBOSE_ON):
                    y, text = _capture_fd1(lambda: net(torch.from_numpy(x)))
                log.append(text)
                return y

        def isa():
            rows = [l.split(",") for l in log[0].splitlines()]
            impls = sorted({r[6] for r in rows if len(r) > 6 and r[3] == "exec" and "conv" in r[5]})
            isa_line = next((r[4] for r in rows if len(r) > 4 and r[4].startswith("isa:")), "isa:?")
            cap = torch.backends.cpu.get_cpu_capability()
            return (f"ATen {cap}; oneDNN {isa_line}; conv impls {', '.join(impls) or '?'}",
                    cap == "AVX2" and not any("avx512" in i for i in impls))
        return base, torch.__version__, infer, lambda y: y.numpy(), isa
    if engine == "onnxruntime":
        import onnxruntime as ort
        base = _maxrss_kb()
        o = ort.SessionOptions()
        o.intra_op_num_threads, o.inter_op_num_threads, o.execution_mode, o.graph_optimization_level = (
            threads, 1, ort.ExecutionMode.ORT_SEQUENTIAL, ort.GraphOptimizationLevel.ORT_ENABLE_ALL)
        s = ort.InferenceSession(str(case / "model.onnx"), o, providers=["CPUExecutionProvider"])
        note = "MLAS picks kernels by CPUID, no query or cap" + (
            "; the CPU has avx512f, so its AVX512F kernels" if has512 else "")
        return base, ort.__version__, lambda x: s.run(None, {"input": x})[0], lambda y: y, lambda: (note, False)
    if engine == "openvino":
        import openvino as ov
        base = _maxrss_kb()
        core = ov.Core()
        cm = core.compile_model(str(case / "model.onnx"), "CPU", {
            "INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"})
        req = cm.create_infer_request()

        def infer(x):
            req.infer({0: x})
            return req.get_output_tensor(0).data

        def isa():
            prims = {}
            for op in cm.get_runtime_model().get_ordered_ops():
                rt = op.get_rt_info()
                k = "{}:{}".format(*(rt[t].astype(str) if t in rt else "?" for t in ("layerType", "primitiveType")))
                if not k.startswith(("Const:", "Input:", "Output:")):
                    prims[k] = prims.get(k, 0) + 1
            named = [k for k in prims if "avx" in k or "sse" in k]  # kernels that name their ISA
            wide = [k for k in named if "avx512" in k]
            caps = ",".join(core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"))
            return (f"capabilities {caps}; exec graph " + ", ".join(f"{k} x{n}" for k, n in sorted(prims.items())),
                    not wide or ("partial" if len(wide) < len(named) else False))
        return base, ov.__version__, infer, np.array, isa
    if engine == "ncnn":
        import ncnn
        base = _maxrss_kb()
        net = ncnn.Net()
        o = net.opt
        o.num_threads, o.use_vulkan_compute = threads, False
        for k in ("use_fp16_storage", "use_fp16_packed", "use_fp16_arithmetic", "use_bf16_storage", "use_bf16_packed"):
            if hasattr(o, k):
                setattr(o, k, False)  # fp32 only; the rest stays default
        if net.load_param(str(case / "model.ncnn.param")) or net.load_model(str(case / "model.ncnn.bin")):
            raise SystemExit("ncnn could not load the model")

        def infer(x):
            m, ex = ncnn.Mat(x[0]), net.create_extractor()
            ex.input("in0", m)
            ret, out = ex.extract("out0")
            if ret:
                raise RuntimeError(f"ncnn extract returned {ret}")
            return out

        def isa():
            sup = {f: bool(getattr(ncnn, f"cpu_support_x86_{f}")()) for f in ("avx", "avx2", "avx512")
                   if hasattr(ncnn, f"cpu_support_x86_{f}")}
            extra = "" if "avx512" in sup or not has512 else (
                "; no avx512 query in the module, the CPU has avx512f so the *_x86_avx512 layers run")
            opts = {k: getattr(o, k) for k in ("use_winograd_convolution", "use_sgemm_convolution",
                                               "use_packing_layout")}
            return f"cpu_support {sup}{extra}; opt {opts}", False
        return base, ncnn.__version__, infer, lambda y: np.array(y)[None], isa
    raise ValueError(engine)


def run_case(engine, net_name, width, height, threads, runs, warmup, seed, case, max_isa) -> dict:
    import numpy as np
    base, version, infer, to_np, isa = load_engine(engine, net_name, case, threads, seed)
    const, check = inputs(width, height, seed)

    def diff(y, ref_file):
        y, ref = to_np(y), np.load(case / ref_file)
        if y.shape != ref.shape:
            raise SystemExit(f"{engine}: output shape {y.shape}, expected {ref.shape}")
        return float(np.abs(y - ref).max())
    d = diff(infer(check), "ref_check.npy")
    d_const = None
    for i in range(warmup):
        y = infer(const)
        d_const = diff(y, "ref_const.npy") if i == 0 else d_const
    times, busy0, cpu0, t_all = [], _cpu_busy_s(), sum(os.times()[:2]), time.perf_counter()
    for _ in range(runs):
        t0 = time.perf_counter()
        infer(const)
        times.append(time.perf_counter() - t0)
    busy1, cpu1, wall = _cpu_busy_s(), sum(os.times()[:2]), time.perf_counter() - t_all
    note, honoured = isa()
    med = statistics.median(times)
    return dict(engine=engine, engine_version=version, net=net_name, width=width, height=height,
                threads=threads, runs=runs, warmup=warmup, median_s=round(med, 6), min_s=round(min(times), 6),
                max_s=round(max(times), 6), times_s=[round(t, 4) for t in times], images_per_s=round(1 / med, 4),
                gflop=json.loads((case / "meta.json").read_text())["gflop"],
                peak_rss_mb=round(_maxrss_kb() / 1024, 1), baseline_rss_mb=round(base / 1024, 1),
                max_abs_diff_vs_torch=d, max_abs_diff_const_input=d_const, mismatch=not d <= TOLERANCE,
                max_isa=max_isa, **({"isa_cap_honoured": honoured} if max_isa else {}), isa_note=note,
                other_load=None if busy0 is None else round(max(0.0, busy1 - busy0 - (cpu1 - cpu0)) / wall, 2))


def human(r: dict) -> str:
    head = f"{r['engine']:12s} {r['net']:15s} {r['width']}x{r['height']:<5d}"
    if "error" in r:
        return f"{head} ERROR {r['error']}"
    return (f"{head} median {r['median_s']:7.3f} s [{r['min_s']:.3f}-{r['max_s']:.3f}] "
            f"{r['gflop'] / r['median_s']:6.1f} GFLOP/s  RSS {r['peak_rss_mb']:5.0f} MB "
            f"(base {r['baseline_rss_mb']:.0f})  other load {r['other_load']}"
            f"  diff {r['max_abs_diff_vs_torch']:.1e}{' MISMATCH' if r['mismatch'] else ''}"
            + ("" if r["max_isa"] is None else f"  cap {r['max_isa']}: {r['isa_cap_honoured']}"))


def _tail(err: str) -> str:
    return " | ".join(err.strip().splitlines()[-4:])[-600:]


def _child(args: list[str], env=None) -> tuple[int, str, str]:
    p = subprocess.run([sys.executable, os.path.abspath(__file__)] + args, env=env, text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p.returncode, p.stdout, p.stderr


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name, default in (("threads", 2), ("runs", 5), ("warmup", 1), ("seed", 0)):
        ap.add_argument(f"--{name}", type=int, default=default)
    ap.add_argument("--sizes", default="256x256,1024x768", help="comma-separated WxH list")
    ap.add_argument("--nets", default="resnet_9blocks,unet_256", help=f"from {', '.join(NETS)}")
    ap.add_argument("--engines", default=",".join(ENGINES), help=f"from {', '.join(ENGINES)}")
    ap.add_argument("--max-isa", choices=sorted(ISA_ENV), default=None)
    ap.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "gantry-peer-engines"),
                    help="cache of exported models, outside the repository")
    ap.add_argument("--json", action="store_true", help="one JSON object per line")
    ap.add_argument("--_prepare", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--_child", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.runs < 1 or a.warmup < 0 or a.threads < 1:
        ap.error("need runs >= 1, warmup >= 0, threads >= 1")
    nets, engines = ([x.strip() for x in v.split(",") if x.strip()] for v in (a.nets, a.engines))
    bad = [n for n in nets if n not in NETS] + [e for e in engines if e not in ENGINES]
    if bad:
        ap.error(f"unknown net or engine: {', '.join(bad)}")
    work = Path(a.work).resolve()
    if work == ROOT or ROOT in work.parents:
        ap.error("--work must be outside the repository")
    sizes = parse_sizes(a.sizes)

    if a._prepare or a._child:
        (n,), ((w, h),) = nets, sizes
        case = work / f"{n}_{w}x{h}_seed{a.seed}"
        if a._prepare:
            return prepare(n, w, h, a.seed, case) or 0
        print(json.dumps(run_case(a._child, n, w, h, a.threads, a.runs, a.warmup, a.seed, case, a.max_isa)))
        return 0

    status = 0
    common = ["--threads", str(a.threads), "--runs", str(a.runs), "--warmup", str(a.warmup),
              "--seed", str(a.seed), "--work", str(work)] + (["--max-isa", a.max_isa] if a.max_isa else [])
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), **ISA_ENV.get(a.max_isa, {}))
    for n in nets:
        for w, h in sizes:
            why = size_ok(n, w, h)
            if why:
                print(f"skip {n} {w}x{h}: {why}", file=sys.stderr)
                continue
            case_args, failed = ["--nets", n, "--sizes", f"{w}x{h}"] + common, None
            if not (work / f"{n}_{w}x{h}_seed{a.seed}" / "meta.json").exists():
                rc, _, err = _child(["--_prepare"] + case_args)  # without the ISA cap
                failed = f"export failed (exit {rc}): {_tail(err)}" if rc else None
            for e in engines:
                r = dict(engine=e, net=n, width=w, height=h, error=failed)
                if failed is None:
                    rc, out, err = _child(["--_child", e] + case_args, env)
                    line = next((l for l in reversed(out.splitlines()) if l.startswith("{")), None)
                    r = json.loads(line) if rc == 0 and line else dict(r, error=f"exit {rc}: {_tail(err)}")
                status |= "error" in r
                if "error" in r and a.json:
                    print(f"error: {e} {n} {w}x{h}: {r['error']}", file=sys.stderr)
                elif "error" not in r and r["mismatch"]:
                    print(f"warning: {e} {n} {w}x{h} differs from PyTorch eager by "
                          f"{r['max_abs_diff_vs_torch']:.3g} (> {TOLERANCE})", file=sys.stderr)
                print(json.dumps(r) if a.json else human(r), flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
