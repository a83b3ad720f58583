#!/usr/bin/env bash
# examples/cremad-mini: a CREMA-D-shaped folder (OGM-GE's layout, made by make_tree.py) trains from the manifest with
# no conversion step, ARL on audio + frames; a missing audio file and a corrupt frame stop the run (exit 2) naming
# the split file's row and the file.
source "$(dirname "$0")/lib.bash"
work=$(mktemp -d)
trap 'rm -rf "$work" "$out" "$err"' EXIT
cd "$work"

/usr/bin/python3 "$SRC/examples/cremad-mini/make_tree.py" data/cremad-mini || fail "make_tree.py"
run validate "$SRC/examples/cremad-mini/manifest.yaml"
expect_code 0
expect_out "type: media.clips"
run run "$SRC/examples/cremad-mini/manifest.yaml" --out trained train.epochs=3
expect_code 0
expect_out "evaluation on 'test' (12 samples)"
expect_out "accuracy (audio alone)"

cp -r data/cremad-mini data/broken
rm data/broken/AudioWAV/1002_S03_FEA_XX.wav
run run "$SRC/examples/cremad-mini/manifest.yaml" --out missing data.root=data/broken train.epochs=1
expect_code 2
expect_err "data/broken/train.csv:"
expect_err "audio: no file data/broken/AudioWAV/1002_S03_FEA_XX.wav"

cp -r data/cremad-mini data/corrupt
head -c 100 data/cremad-mini/Image-01-FPS/1005_S02_SAD_XX/00030.jpg >data/corrupt/Image-01-FPS/1005_S02_SAD_XX/00030.jpg
run run "$SRC/examples/cremad-mini/manifest.yaml" --out corrupt data.root=data/corrupt train.epochs=1
expect_code 2
expect_err "data/corrupt/test.csv:"
expect_err "Image-01-FPS/1005_S02_SAD_XX/00030.jpg"
finish
