#!/usr/bin/env bash
# Reading media: media.clips through mmdebias's DataLoader against PyTorch's DataLoader doing the same decoding and
# augmentation (bench/media_loader_torch.py), on a generated CREMA-D-shaped tree of CLIPS clips (examples/cremad-mini/
# make_tree.py: 16 kHz speech, FRAMES frames of SIZE x SIZE per clip), with the same number of workers; then the data
# wait of a training run of std.resnet (depth 18) on those frames. docs/benchmarks.md, "Reading media".
#   bench/media_loader.sh        (env: TREE=/tmp/mmdebias-media-bench PER_CLASS=335 WORKERS=2 SIZE=224 FRAMES=3 EPOCHS=2)
set -euo pipefail
/usr/bin/python3 -c "import soundfile, scipy, torchvision" 2>/dev/null || { echo "media_loader: needs python3-soundfile, python3-scipy and python3-torchvision (apt-get install)" >&2; exit 2; }
cd "$(dirname "$0")/.."
tree=${TREE:-/tmp/mmdebias-media-bench} per_class=${PER_CLASS:-335} workers=${WORKERS:-2} size=${SIZE:-224}
frames=${FRAMES:-3} epochs=${EPOCHS:-2} build=${BUILD:-build} python=${PYTHON:-/usr/bin/python3}
if [[ ! -f $tree/train.csv ]]; then
  echo "media_loader: writing $((6 * per_class)) clips into $tree"
  "$python" examples/cremad-mini/make_tree.py "$tree" --train "$per_class" --test 1 --frames "$frames" --frame-size "${size}x${size}"
fi
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(date -u +%F)"
"$build/bin/mmdebias-bench-media-read" "$build/lib/mmdebias/plugins" "$tree" --threads "$workers" --frames "$frames" --size "$size" --epochs "$epochs"
"$python" bench/media_loader_torch.py "$tree" --workers "$workers" --frames "$frames" --size "$size" --epochs "$epochs"
