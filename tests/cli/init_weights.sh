#!/usr/bin/env bash
# Starting weights (init:) and freezing (trainable:, freeze:): a state dict saved by PyTorch's torch.save (the
# OrderedDict that model.state_dict() returns), an entry of a training checkpoint under a prefix, and a safetensors
# file written by the safetensors package load by name; a frozen component ends training with exactly the file's
# values; missing, unexpected and wrongly shaped names are refused at validate (exit 2) with PyTorch's wording; the
# file's sha256 is recorded and a resume refuses a changed file.
source "$(dirname "$0")/lib.bash"
work=$(mktemp -d)
trap 'rm -rf "$work" "$out" "$err"' EXIT
cd "$work"

manifest() {  # manifest FILE M0_EXTRA: a two-modality gaussian run whose m0 encoder map gets M0_EXTRA
  printf 'mmdebias: 1\ndata: {type: std.gaussian}\nmodel:\n  encoders:\n    m0: {type: std.mlp, hidden: [16]%s}\n    m1: {type: std.mlp, hidden: [16]}\n  fusion: {type: std.concat}\ntrain: {epochs: 2, batch_size: 32}\nrun: {seed: 3}\n' "$2" >"$1"
}
manifest base.yaml ""
run run base.yaml --out base
expect_code 0

# The files, from the trained m0 encoder's names with new values (PyTorch 1.13, Debian's).
"$PYTHON" - <<'PY' || fail "making the weight files"
import collections, torch, numpy as np
m = torch.jit.load("base/checkpoints/" + open("base/checkpoints/latest").read().strip())
sd = collections.OrderedDict((k[len("encoders.m0."):], torch.linspace(-1, 1, v.numel()).reshape(v.shape) * (i + 1))
                             for i, (k, v) in enumerate(m.model.named_parameters()) if k.startswith("encoders.m0."))
assert len(sd) >= 4, list(sd)
torch.save(sd, "sd.pt")  # an OrderedDict with _metadata: what torch.save(model.state_dict()) writes
torch.save({"epoch": 7, "lr": 0.1, "state_dict": collections.OrderedDict(("backbone." + k, v) for k, v in sd.items()),
            "head.weight": torch.zeros(2)}, "ckpt.pt")
extra = collections.OrderedDict(sd); extra["extra.weight"] = torch.zeros(3); torch.save(extra, "extra.pt")
missing = collections.OrderedDict(list(sd.items())[1:]); torch.save(missing, "missing.pt")
wrong = collections.OrderedDict(sd); k0 = next(iter(wrong)); wrong[k0] = torch.zeros(2, 2); torch.save(wrong, "wrong.pt")
torch.save(sd, "legacy.pt", _use_new_zipfile_serialization=False)
np.savez("sd.npz", **{k: v.numpy() for k, v in sd.items()})
print("names:", ", ".join(sd))
PY
"$TENSORBOARD_PYTHON" -c '
import numpy as np, safetensors.numpy as st
d = np.load("sd.npz"); st.save_file({k: d[k] for k in d.files}, "sd.safetensors")' || fail "writing sd.safetensors"

# expect_m0_equals RUN FILE: RUN's m0 parameters equal FILE's tensors exactly.
expect_m0_equals() {
  "$PYTHON" - "$1" "$2" <<'PY' || fail "$1: m0 does not hold $2's values"
import sys, torch
m = torch.jit.load(sys.argv[1] + "/checkpoints/" + open(sys.argv[1] + "/checkpoints/latest").read().strip())
got = {k[len("encoders.m0."):]: v for k, v in m.model.named_parameters() if k.startswith("encoders.m0.")}
want = torch.load(sys.argv[2])
assert got.keys() == want.keys(), (sorted(got), sorted(want))
for k in want: assert torch.equal(got[k], want[k]), k
PY
}

# 1. torch.save's OrderedDict, frozen: training leaves it exactly as loaded (m1 still trains).
manifest frozen.yaml ", init: sd.pt, trainable: false"
run run frozen.yaml --out frozen
expect_code 0
expect_m0_equals frozen sd.pt
"$PYTHON" - <<'PY' || fail "m1 did not train beside the frozen m0"
import torch
def p(d): return dict(torch.jit.load(d + "/checkpoints/" + open(d + "/checkpoints/latest").read().strip()).model.named_parameters())
a, b = p("base"), p("frozen")
assert any(not torch.equal(a[k], b[k]) for k in a if k.startswith("encoders.m1.")), "m1 unchanged"
PY
grep -q "sha256: $(sha256sum sd.pt | cut -d' ' -f1)" frozen/resolved.yaml || fail "resolved.yaml lacks the file's sha256"

# 2. A training checkpoint's entry under a prefix, biases frozen by pattern: biases keep the file's values, weights train.
manifest ckpt.yaml ', init: {path: ckpt.pt, key: state_dict, prefix: backbone.}, freeze: ["*.bias"]'
run run ckpt.yaml --out ckpt
expect_code 0
"$PYTHON" - <<'PY' || fail "freeze by pattern"
import torch
m = torch.jit.load("ckpt/checkpoints/" + open("ckpt/checkpoints/latest").read().strip())
got = {k[len("encoders.m0."):]: v for k, v in m.model.named_parameters() if k.startswith("encoders.m0.")}
want = torch.load("sd.pt")
for k in want:
    assert torch.equal(got[k], want[k]) == k.endswith(".bias"), k
PY

# 3. safetensors (written by the safetensors package), frozen.
manifest st.yaml ", init: sd.safetensors, trainable: false"
run run st.yaml --out st
expect_code 0
expect_m0_equals st sd.pt

# 4. Refusals at validate, before any compute, located at the init key, in PyTorch's words.
manifest extra.yaml ", init: extra.pt"
run validate extra.yaml
expect_code 2
expect_err 'extra.yaml:5'
expect_err 'model.encoders.m0.init'
expect_err 'Unexpected key(s) in state_dict: "extra.weight".'
manifest missing.yaml ", init: missing.pt"
run validate missing.yaml
expect_code 2
expect_err 'Missing key(s) in state_dict: "'
manifest wrong.yaml ", init: wrong.pt"
run validate wrong.yaml
expect_code 2
expect_err 'from checkpoint, the shape in current model is'
# strict: false loads what matches; a wrong shape is still refused.
manifest loose.yaml ", init: {path: extra.pt, strict: false}"
run validate loose.yaml
expect_code 0
manifest loose_wrong.yaml ", init: {path: wrong.pt, strict: false}"
run validate loose_wrong.yaml
expect_code 2
expect_err 'size mismatch for'
# ...an entry a checkpoint lacks, a checkpoint without key, the legacy format, a missing file, a typo'd pattern.
manifest nokey.yaml ", init: {path: ckpt.pt, key: model}"
run validate nokey.yaml
expect_code 2
expect_err "has no entry 'model'; its entries: epoch, lr, state_dict, head.weight"
manifest whole.yaml ", init: ckpt.pt"
run validate whole.yaml
expect_code 2
expect_err "name the entry that holds the state dict with init.key"
manifest legacy.yaml ", init: legacy.pt"
run validate legacy.yaml
expect_code 2
expect_err "legacy format"
manifest absent.yaml ", init: nowhere.pt"
run validate absent.yaml
expect_code 2
expect_err "no weight file $work/nowhere.pt"
manifest typo.yaml ', freeze: ["linaer0.*"]'
run validate typo.yaml
expect_code 2
expect_err "the pattern 'linaer0.*' matches no parameter"

# 5. A resume refuses a changed weight file, naming it.
cp sd.pt mutable.pt
manifest resume.yaml ", init: mutable.pt"
run run resume.yaml --out resumed train.epochs=1
expect_code 0
"$PYTHON" -c 'import torch; sd = torch.load("sd.pt"); sd[next(iter(sd))] += 1; torch.save(sd, "mutable.pt")'
run run --resume resumed
expect_code 2
expect_err "model.encoders.m0.init.sha256: the weight file $work/mutable.pt has changed: its sha256 is"
# validate prints what each init: loaded; the run's log says it too.
run validate resume.yaml
expect_code 0
expect_out "# init encoders.m0: loaded 4 of 4 tensors from mutable.pt"
grep -q "init encoders.m0: loaded 4 of 4 tensors from mutable.pt" resumed/log.txt || fail "the run's log lacks what init loaded"
finish
