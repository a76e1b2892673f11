#!/usr/bin/env bash
# `gantry train` end to end beside the reference's training loop in PyTorch: the real commands
# on the same dataset folder (real photos from samples/photos, cut into 286×286 pairs), default
# recipes (pix2pix: unet_256 + basic D, batch norm; cyclegan: 2× resnet_9blocks + 2× basic D),
# 256×256 crops, batch 1, the same threads; each run in its own process, alternating, median
# of RUNS. Wall time covers everything from process start to exit (start-up, decoding,
# augmentation, training, the end-of-epoch checkpoints).
#
#   benchmarks/train_command_bench.sh [PYTHON_WITH_TORCH_AND_PILLOW] [RUNS] [THREADS] [ISA]
set -euo pipefail
cd "$(dirname "$0")/.."
python=${1:-/work/torchenv/bin/python}
runs=${2:-3}
threads=${3:-2}
isa=${4:-}
if [ -n "$isa" ]; then
    export GANTRY_MAX_CPU_ISA=$isa ATEN_CPU_CAPABILITY=$isa DNNL_MAX_CPU_ISA=${isa^^}
fi
# GANTRY_BIN: an already built binary (building here with other flags than the tests' would
# rebuild everything).
if [ -z "${GANTRY_BIN:-}" ]; then
    swift build -c release --product gantry >/dev/null
    GANTRY_BIN=$(swift build -c release --show-bin-path)/gantry
fi
gantry=$GANTRY_BIN
work=$(mktemp -d /tmp/gantry-train-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$python" - "$work" <<'PY'
import sys
from pathlib import Path
from PIL import Image
root = Path(sys.argv[1])
for d in ["p2p/train", "cyc/trainA", "cyc/trainB"]:
    (root / d).mkdir(parents=True)
photos = sorted(Path("samples/photos").iterdir())
n = 0
for p in photos:
    img = Image.open(p).convert("RGB")
    w, h = img.size
    s = min(w, h)
    for k in range(3):
        x = (w - s) * k // 2 if w > h else 0
        y = (h - s) * k // 2 if h >= w else 0
        tile = img.crop((x, y, x + s, y + s)).resize((286, 286), Image.BICUBIC)
        ab = Image.new("RGB", (572, 286))
        ab.paste(tile.convert("L").convert("RGB"), (0, 0))
        ab.paste(tile, (286, 0))
        ab.save(root / f"p2p/train/{n:03d}.png")
        if k == 0:  # one per photo: a CycleGAN iteration costs ten pix2pix ones
            tile.save(root / f"cyc/trainA/{n:03d}.jpg", quality=95)
            tile.convert("L").convert("RGB").save(root / f"cyc/trainB/{n:03d}.jpg", quality=95)
        n += 1
PY
echo "# CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs); AVX-512: $(grep -q avx512f /proc/cpuinfo && echo yes || echo no); ${threads} threads; ISA cap: ${isa:-none}; $(ls "$work/p2p/train" | wc -l) pix2pix pairs, $(ls "$work/cyc/trainA" | wc -l)+$(ls "$work/cyc/trainB" | wc -l) cyclegan images"
measure() {  # label, command...: prints "label wall_s peak_rss_mb"
    local label=$1; shift
    local start end
    start=$(date +%s.%N)
    /usr/bin/time -f "%M" -o "$work/rss" "$@" >/dev/null 2>"$work/err" || { cat "$work/err"; exit 1; }
    end=$(date +%s.%N)
    echo "$label $(echo "$end - $start" | bc) $(( $(cat "$work/rss") / 1024 ))"
}
for model in pix2pix cyclegan; do
    if [ $model = pix2pix ]; then data=$work/p2p epochs=2; else data=$work/cyc epochs=1; fi
    for i in $(seq "$runs"); do
        rm -rf "$work/run-g" "$work/run-p"
        measure "$model gantry" "$gantry" train "$model" --data "$data" --run "$work/run-g" --threads "$threads" \
            --n-epochs "$epochs" --n-epochs-decay 0
        measure "$model pytorch" "$python" benchmarks/peer_reference_train.py --model "$model" --data "$data" \
            --run "$work/run-p" --epochs "$epochs" --threads "$threads"
    done
done | tee "$work/results"
echo "# medians (wall s, peak RSS MB of the main process):"
for key in "pix2pix gantry" "pix2pix pytorch" "cyclegan gantry" "cyclegan pytorch"; do
    wall=$(grep "^$key " "$work/results" | awk '{print $3}' | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')
    rss=$(grep "^$key " "$work/results" | awk '{print $4}' | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')
    echo "$key $wall $rss"
done
