#!/usr/bin/env bash
# One rank × T threads against T ranks × 1 thread at the same global batch, per-iteration time
# (median of the logged iterations after the first), for CycleGAN (resnet_9blocks + basic D,
# 256² crops) and pix2pix's networks (run as colorization: unet_256 + basic D, batch norm,
# dropout). Data: samples/photos, copied as the two domains / the colour photos.
#
#   benchmarks/data_parallel_bench.sh [GANTRY] [ITERATIONS] [THREADS]
#
# Prints one line per case and writes nothing outside a temporary folder. Needs mpirun.
set -euo pipefail
gantry=${1:-.build/release/gantry}
iterations=${2:-6}
threads=${3:-2}
work=$(mktemp -d /tmp/gantry-dp-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
here=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$work/unpaired/trainA" "$work/unpaired/trainB" "$work/colour"
for f in "$here"/samples/photos/*; do
  cp "$f" "$work/unpaired/trainA/"; cp "$f" "$work/unpaired/trainB/"; cp "$f" "$work/colour/"
done
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
photos=$(ls "$here"/samples/photos | wc -l)
median() { awk -F'"time_s":' 'NR>1 { split($2, a, "}"); print a[1] }' "$1" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
run() {  # name ranks threads recipe data batch
  local name=$1 ranks=$2 t=$3 recipe=$4 data=$5 batch=$6; shift 6
  local epochs=$(( (iterations * batch + photos - 1) / photos ))
  mpirun -np "$ranks" --oversubscribe --bind-to none "$gantry" train "$recipe" --data "$data" --run "$work/$name" \
    --batch-size "$batch" --threads "$t" --n-epochs "$epochs" --n-epochs-decay 0 --save-epoch-freq 1000 "$@" >/dev/null 2>&1
  printf '%-10s %d rank(s) × %d thread(s), global batch %d: %s s/iteration (median of %d)\n' "$recipe" "$ranks" "$t" "$batch" \
    "$(median "$work/$name/losses.jsonl")" $(( $(wc -l < "$work/$name/losses.jsonl") - 1 ))
}
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, avx512f: $(grep -c avx512f /proc/cpuinfo || true)"
# The per-rank compute of the T-rank case: one rank, one thread, its share of the batch.
for recipe in cyclegan colorization; do
  data=$work/unpaired; [ "$recipe" = colorization ] && data=$work/colour
  run "$recipe-1" 1 "$threads" "$recipe" "$data" "$threads"
  run "$recipe-n" "$threads" 1 "$recipe" "$data" "$threads"
  run "$recipe-s" 1 1 "$recipe" "$data" 1
done
