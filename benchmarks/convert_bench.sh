#!/usr/bin/env bash
# End-to-end throughput: `gantry convert` against the PyTorch flow (benchmarks/peer_pytorch_folder.py)
# on the same folders, model and threads, interleaved, median of REPEATS runs of each.
#
#   benchmarks/convert_bench.sh /path/to/venv/bin/python [REPEATS]
#
# The venv needs torch, numpy and pillow. Folders: 8 JPEGs of 256×256 and 2 photos of 1024×768
# (made from samples/photos), a full-size resnet_9blocks (ngf 64, instance norm) with random weights
# (benchmarks/make_bench_images.py --checkpoint).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:?usage: benchmarks/convert_bench.sh PYTHON [REPEATS]}
REPEATS=${2:-3}
THREADS=${THREADS:-2}
GANTRY=${GANTRY:-.build/release/gantry}
W=$(mktemp -d /tmp/gantry-convert-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT

"$PY" benchmarks/make_bench_images.py --checkpoint "$W/resnet9.pth" >/dev/null
"$PY" - "$W" <<'PYEOF'
import os, sys
from PIL import Image
w = sys.argv[1]
photos = sorted(os.path.join("samples/photos", n) for n in os.listdir("samples/photos"))
for folder, size, count in (("small", (256, 256), 8), ("large", (1024, 768), 2)):
    os.makedirs(os.path.join(w, folder))
    for i in range(count):
        Image.open(photos[i % len(photos)]).convert("RGB").resize(size, Image.BICUBIC).save(
            os.path.join(w, folder, f"p{i}.jpg"), quality=92)
PYEOF

seconds() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2)}'; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); threads $THREADS; repeats $REPEATS"
for folder in small large; do
    n=$(ls "$W/$folder" | wc -l)
    : > "$W/g.txt"; : > "$W/p.txt"
    for r in $(seq "$REPEATS"); do
        rm -rf "$W/out-g" "$W/out-p"
        seconds "$GANTRY" convert "$W/$folder" -m "$W/resnet9.pth" -o "$W/out-g" --threads "$THREADS" -q >> "$W/g.txt"
        seconds "$PY" benchmarks/peer_pytorch_folder.py --input "$W/$folder" --output "$W/out-p" \
            --checkpoint "$W/resnet9.pth" --threads "$THREADS" >> "$W/p.txt"
    done
    g=$(median < "$W/g.txt"); p=$(median < "$W/p.txt")
    printf '%-6s %d images: gantry %.2f s (%.2f img/s), pytorch %.2f s (%.2f img/s), ratio %.2fx   [gantry runs: %s] [pytorch runs: %s]\n' \
        "$folder" "$n" "$g" "$(echo "$n / $g" | bc -l)" "$p" "$(echo "$n / $p" | bc -l)" "$(echo "$p / $g" | bc -l)" \
        "$(tr '\n' ' ' < "$W/g.txt")" "$(tr '\n' ' ' < "$W/p.txt")"
done
