#!/usr/bin/env bash
# Rebuilds the colourisation training set of the bundled sample model (samples/models/) from
# photographs in Debian 12 packages: 39 photos from four wallpaper/puzzle packages, 6 more
# wallpapers from plasma-workspace-wallpapers, 21 sample photos from opencv-doc and 8 photos bundled
# in three PyPI wheels (scikit-image, scikit-learn, matplotlib; downloaded, not installed), each at up to
# two scales (longer side 384 and 640 px, never enlarged) as PNG, flat in OUT (the layout of
# the reference's colorization dataset mode: `gantry train colorization --data OUT`). The photos in samples/photos are the held-out set and are not used
# here (mate-backgrounds' Dune, LadyBird and Storm and plasma's EveningGlow, Path and Grey are
# skipped for that reason).
#
#   scripts/make_colour_dataset.sh OUT [PYTHON_WITH_PILLOW]
#
# Needs apt-get (to download the .debs; nothing is installed) and a Python with Pillow and pip
# (a virtualenv; pip only downloads the three wheels). Sources and licences: samples/README.md.
set -euo pipefail
out=${1:?usage: make_colour_dataset.sh OUT [PYTHON]}
python=${2:-python3}
work=$(mktemp -d /tmp/gantry-colour-data.XXXXXX)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download -qq mate-backgrounds=1.26.0-1 lomiri-wallpapers-16.04=20.04.0-2 \
    lxqt-themes=1.2.0-1 palapeli-data=4:22.12.3-1 plasma-workspace-wallpapers=4:5.27.5-2 opencv-doc=4.6.0+dfsg-12)
for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$work/root"; done
"$python" -m pip download -q --no-deps --only-binary=:all: --python-version 3.11 --dest "$work/wheels" \
    scikit-image==0.26.0 scikit-learn==1.9.1 matplotlib==3.11.2
(cd "$work/root" && for w in "$work"/wheels/*.whl; do
    unzip -qo "$w" 'skimage/data/*' 'sklearn/datasets/images/*' 'matplotlib/mpl-data/sample_data/*' || true
done)
"$python" - "$work/root" "$out" <<'PY'
import sys
from pathlib import Path

from PIL import Image

root, out = Path(sys.argv[1]), Path(sys.argv[2])
mate = "usr/share/backgrounds/mate/nature/"
lomiri = "usr/share/backgrounds/"
lxqt = "usr/share/lxqt/wallpapers/"
palapeli = "usr/share/palapeli/collection/"
photos = [mate + n + ".jpg" for n in ["Aqua", "Blinds", "FreshFlower", "Garden", "GreenMeadow", "RainDrops",
                                       "TwoWings", "Wood", "YellowFlower"]]
photos += [lomiri + n + ".jpg" for n in [
    "Bridge_by_Sander_Klootwijk", "Dragonfly_by_Bolly", "Picture_0B_by_freespace", "Picture_1A_by_freespace",
    "Wine_by_Jakkub_Mede", "aitzgorri_by_Aitzol_Berasategi", "free_by_Peter_Nerlich", "friends_by_Aitzol_Berasategi",
    "greentock_by_Peter_Nerlich", "life_by_Aitzol_Berasategi", "picosdeeuropa_by_Aitzol_Berasategi",
    "seeding_by_Clements_Engelhardt", "sunset_by_Aitzol_Berasategi", "umang_by_Abhishek_Mudgal"]]
photos += [lxqt + n for n in ["Butterfly-Kenneth-Wimer.jpg", "Valendas.png", "after-the-rain.jpg", "appleflower.png",
                              "beam.png", "butterfly.png", "cloud.png", "drop.png", "flowers.png", "fog.jpg",
                              "this-is-not-windows.jpg"]]
photos += [palapeli + n + ".jpg" for n in ["castle-maintenon", "cincinnati-bridge", "citrus-fruits", "european-honey-bee",
                                           "panther-chameleon-female"]]
photos += [f"usr/share/wallpapers/{n}/contents/images/2560x1600.jpg" for n in [
    "Kite", "DarkestHour", "summer_1am", "BytheWater", "FallenLeaf", "OneStandsOut"]]
photos += ["usr/share/doc/opencv-doc/examples/data/" + n for n in [
    "aero1.jpg", "aero3.jpg", "aloeL.jpg", "apple.jpg", "baboon.jpg", "board.jpg", "building.jpg", "butterfly.jpg",
    "chicky_512.png", "ela_original.jpg", "fruits.jpg", "graf1.png", "graf3.png", "home.jpg", "leuvenA.jpg",
    "leuvenB.jpg", "messi5.jpg", "orange.jpg", "rubberwhale1.png", "smarties.png", "squirrel_cls.jpg"]]
photos += ["skimage/data/" + n for n in ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png"]]
photos += ["sklearn/datasets/images/china.jpg", "sklearn/datasets/images/flower.jpg",
           "matplotlib/mpl-data/sample_data/grace_hopper.jpg"]
out.mkdir(parents=True, exist_ok=True)
for p in photos:
    img = Image.open(root / p).convert("RGB")
    if p.startswith("usr/share/wallpapers/"):
        # plasma names every design's file by size: the design's name is the folder's.
        stem = p.split("/")[3]
    else:
        stem = Path(p).stem
    for side in [s for s in (384, 640) if s <= max(img.size)]:
        scale = side / max(img.size)
        small = img.resize((round(img.width * scale), round(img.height * scale)), Image.LANCZOS)
        name = f"{stem}_{side}.png"
        small.save(out / name)
print(f"{len(photos)} photos, {len(list(out.glob('*.png')))} images in {out}")
PY
