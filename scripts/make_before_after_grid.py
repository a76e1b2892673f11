#!/usr/bin/env python3
"""The before/after grid of the bundled sample model: for each held-out photo, the grey photo the
model sees, Gantry's colourisation, and the original colour photo, in rows.

    gantry convert samples/photos --pipeline pipelines/sample.yaml -o /tmp/sample-out
    PYTHON_WITH_PILLOW scripts/make_before_after_grid.py /tmp/sample-out samples/models/colourise/before_after.jpg

Needs Pillow (Debian's python3-pil or a virtualenv).
"""

import sys
from pathlib import Path

from PIL import Image, ImageDraw

out_dir, target = Path(sys.argv[1]), Path(sys.argv[2])
names = ["dune.jpg", "evening_glow.jpg", "ladybird.jpg", "storm.png", "forest_path.jpg"]
height, gap, label = 180, 6, 22
rows = []
for name in names:
    original = Image.open(Path("samples/photos") / name).convert("RGB")
    converted = Image.open(out_dir / (Path(name).stem + ".png")).convert("RGB")
    grey = original.convert("L").convert("RGB")
    w = round(original.width * height / original.height)
    rows.append([im.resize((w, height), Image.LANCZOS) for im in (grey, converted, original)])
width = max(sum(im.width for im in row) + 4 * gap for row in rows)
grid = Image.new("RGB", (width, label + len(rows) * (height + gap) + gap), "white")
draw = ImageDraw.Draw(grid)
for i, title in enumerate(["grey input", "gantry convert (sample model)", "original"]):
    draw.text((gap + i * (rows[0][0].width + gap), 5), title, fill="black")
y = label
for row in rows:
    x = gap
    for im in row:
        grid.paste(im, (x, y))
        x += im.width + gap
    y += height + gap
grid.save(target, **({"quality": 90} if target.suffix.lower() in (".jpg", ".jpeg") else {}))
print("wrote", target, grid.size)
