#!/usr/bin/env bash
# docs/bring-your-model.md's example, as a user runs it (examples/bring-your-model/run.sh, 2 epochs): a scripted
# PyTorch encoder and torchvision-named ResNet-18 weights trained with ARL, exported, and loaded back in PyTorch
# (use_export.py asserts the export reproduces mmdebias's logits). Checked here besides: what init: loaded, and the
# frozen layers still hold the file's values after training.
source "$(dirname "$0")/lib.bash"
work=$(mktemp -d)
trap 'rm -rf "$work" "$out" "$err"' EXIT

# The models are made with Debian's torch and torchvision (the 2.x build's Python has torch 2.x but no torchvision that
# matches it); the export is loaded with the build's own.
WORKDIR=$work MMDEBIAS=$MMDEBIAS PYTHON=$PYTHON MODEL_PYTHON=/usr/bin/python3 "$SRC/examples/bring-your-model/run.sh" train.epochs=2 >"$out" 2>"$err"
code=$?
expect_code 0
expect_out "64 samples: accuracy"
expect_out "largest difference from mmdebias's logits"
grep -q "init encoders.image: loaded 120 of 120 tensors from resnet18_1ch.pt (sha256 [0-9a-f]*); 2 of the file.s left out by prefix or ignore" "$work/runs/bring-your-model/log.txt" ||
  fail "the log does not say the ResNet-18 weights were loaded whole"
"$PYTHON" - "$work" <<'PY' || fail "frozen layers moved, or unfrozen ones did not"
import sys, torch
w = sys.argv[1]
run = f"{w}/runs/bring-your-model"
ck = dict(torch.jit.load(f"{run}/checkpoints/" + open(f"{run}/checkpoints/latest").read().strip()).model.named_parameters())
sd = torch.load(f"{w}/resnet18_1ch.pt")
for k in ["conv1.weight", "bn1.weight", "layer1.0.conv1.weight", "layer4.1.conv2.weight"]:
    same = torch.equal(ck["encoders.image." + k], sd[k])
    assert same == (not k.startswith("layer4")), (k, same)
PY
finish
