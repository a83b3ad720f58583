#!/usr/bin/env bash
# examples/cremad-mini: a CREMA-D-shaped folder (OGM-GE's layout, made by make_tree.py) trains from the manifest with
# no conversion step, ARL on audio + frames; a missing audio file and a corrupt frame stop the run (exit 2) naming
# the split file's row and the file, or with on_bad_sample: skip are left out and listed; a killed run resumes exactly.
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

# on_bad_sample: skip: the corrupt frame's clip (a test row) and a corrupt training WAV are left out, warned of once
# each, and listed in summary.json with their rows and files; the evaluation covers the 11 good test clips.
printf 'RIFF....WAVEjunk' >data/corrupt/AudioWAV/1001_S00_NEU_XX.wav
run run "$SRC/examples/cremad-mini/manifest.yaml" --out skipped data.root=data/corrupt data.on_bad_sample=skip train.epochs=2
expect_code 0
expect_err "on_bad_sample: skip: left out sample"
expect_out "evaluation on 'test' (11 samples)"
[[ $(grep -c "left out sample" "$err") == 2 ]] || fail "each bad sample should be warned of once: $(grep "left out" "$err")"
python3 - skipped/summary.json <<'PY' || fail "summary.json does not list the skipped samples"
import json, sys
s = json.load(open(sys.argv[1]))["skipped_samples"]
assert s["train"]["count"] == 1 and s["test"]["count"] == 1, s
train, test = s["train"]["samples"][0]["error"], s["test"]["samples"][0]["error"]
assert "train.csv:" in train and "AudioWAV/1001_S00_NEU_XX.wav" in train, train
assert "test.csv:" in test and "Image-01-FPS/1005_S02_SAD_XX/00030.jpg" in test, test
PY
run eval skipped
expect_code 0
python3 -c 'import json; s = json.load(open("skipped/eval-test.json"))["skipped_samples"]; assert s["test"]["count"] == 1, s' ||
  fail "mmdebias eval does not report the skipped test sample"
run run "$SRC/examples/cremad-mini/manifest.yaml" --out policy data.root=data/corrupt data.on_bad_sample=ignore
expect_code 2
expect_err "data.on_bad_sample"
expect_err "expected stop"

# Exact resume with fresh augmentation every epoch (crops, flips, frames and audio segments drawn from (seed, split,
# epoch, index)) and a skipped sample: killed after its second epoch's checkpoint and resumed, it ends as the whole run.
run run "$SRC/examples/cremad-mini/manifest.yaml" --out whole data.root=data/corrupt data.on_bad_sample=skip train.epochs=5 \
  data.audio_fit=pad
expect_code 0
MMDEBIAS_TEST_CHECKPOINT_PAUSE_MS=300 "$MMDEBIAS" run "$SRC/examples/cremad-mini/manifest.yaml" --out killed data.root=data/corrupt \
  data.on_bad_sample=skip train.epochs=5 data.audio_fit=pad >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 3000); do
  [[ "$(cat killed/checkpoints/latest 2>/dev/null)" == ckpt-000000006.pt ]] && break
  sleep 0.01
done
kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
[[ ! -f killed/summary.json ]] || fail "the run finished before it was killed: the kill tested nothing"
run run --resume killed
expect_code 0
sha() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["params_sha256"])' "$1/summary.json"; }
[[ "$(sha whole)" == "$(sha killed)" ]] || fail "killed and resumed run differs: $(sha killed) vs $(sha whole)"
python3 - killed/summary.json <<'PY' || fail "the resumed run lost the skipped samples"
import json, sys
s = json.load(open(sys.argv[1]))["skipped_samples"]
assert s["train"]["count"] == 1 and s["test"]["count"] == 1, s
PY
finish
