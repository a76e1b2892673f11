#!/usr/bin/env bash
# One training iteration of the reference recipes, Gantry beside PyTorch eager, same threads,
# each engine in its own process (peak RSS per process), alternating, median of --runs each.
#
#   benchmarks/train_bench.sh [PYTHON_WITH_TORCH] [RUNS] [THREADS] [ISA]
#   benchmarks/train_bench.sh /work/torchenv/bin/python 5 2          # what the CPU offers
#   benchmarks/train_bench.sh /work/torchenv/bin/python 5 2 avx2     # both engines capped at AVX2
#
# The cap stands in for an AVX2-only machine: GANTRY_MAX_CPU_ISA for Gantry's oneDNN, and
# ATEN_CPU_CAPABILITY + DNNL_MAX_CPU_ISA for PyTorch's own kernels and its bundled oneDNN.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${1:-/work/torchenv/bin/python}
runs=${2:-5}
threads=${3:-2}
isa=${4:-}
if [ -n "$isa" ]; then
    export GANTRY_MAX_CPU_ISA=$isa ATEN_CPU_CAPABILITY=$isa DNNL_MAX_CPU_ISA=${isa^^}
fi
# GANTRY_BIN may name an already built binary (a test build's flags differ from a plain release's).
gantry=${GANTRY_BIN:-}
if [ -z "$gantry" ]; then
    swift build -c release --product gantry >/dev/null
    gantry=$(swift build -c release --show-bin-path)/gantry
fi
echo "# CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs); AVX-512: $(grep -q avx512f /proc/cpuinfo && echo yes || echo no); ${threads} threads; ${runs} timed iterations after 1 warm-up; ISA cap: ${isa:-none}"
for model in pix2pix cyclegan; do
    "$gantry" bench-train --model "$model" --runs "$runs" --threads "$threads" --algorithm direct
    "$gantry" bench-train --model "$model" --runs "$runs" --threads "$threads" --algorithm winograd
    "$python" benchmarks/peer_pytorch_train.py --model "$model" --runs "$runs" --threads "$threads"
done
