#!/usr/bin/env bash
# run.precision and run.loss_scale through the host: fp16 on the CPU is refused before any compute; bf16 trains,
# says so in summary.json and resumes bit for bit (a change of precision on resume is refused); validate --cost
# counts the weight casts; the dynamic loss scale (run.loss_scale=dynamic, the scaler fp16 uses, here on the CPU)
# skips a step whose gradients hold an injected infinity (the weights stay as they were), halves the scale and logs
# it; a run stopped after that step and resumed goes on with the halved scale and ends where the uninterrupted run
# ends, bit for bit.
source "$(dirname "$0")/lib.bash"
work=$(mktemp -d)
trap 'rm -rf "$work" "$out" "$err"' EXIT
manifest=$SRC/examples/default.yaml
short=(train.steps=8 train.log_every=1 run.threads=1)
sha() { "$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1] + "/summary.json"))["params_sha256"])' "$1"; }

# 1. fp16 on the CPU: exit 2, naming the key (at its line in a file) and what to use instead; nothing is made.
run run "$manifest" run.precision=fp16 --out "$work/fp16"
expect_code 2
expect_err "<override 'run.precision=fp16'>: run.precision: fp16 needs a GPU (run.device=cuda); on the CPU use run.precision=bf16"
[[ ! -e "$work/fp16/summary.json" ]] || fail "the refused fp16 run wrote a summary"
printf 'mmdebias: 1\ndata: {type: std.gaussian}\nmodel:\n  encoders: {m0: {type: std.mlp}, m1: {type: std.mlp}}\n  fusion: {type: std.concat}\nrun:\n  device: cpu\n  precision: fp16\n' >"$work/fp16.yaml"
run validate "$work/fp16.yaml"
expect_code 2
expect_err "$work/fp16.yaml:8:14: run.precision: fp16 needs a GPU"
run run "$manifest" run.precision=fp8
expect_code 2
expect_err "run.precision"

# 2. bf16 trains, and the summary says in what.
run run "$manifest" "${short[@]}" run.precision=bf16 --out "$work/bf16"
expect_code 0
"$PYTHON" -c 'import json,sys; t=json.load(open(sys.argv[1]))["train"]; assert t["precision"]=="bf16" and "loss_scale" not in t, t' \
  "$work/bf16/summary.json" || fail "summary.json of the bf16 run: $(cat "$work/bf16/summary.json")"

# bf16 resumes exactly too: autocast keeps no state between steps (its weight casts are dropped at each step's end).
run run "$manifest" "${short[@]}" train.steps=5 run.precision=bf16 --out "$work/bf16-part"
expect_code 0
run run --resume "$work/bf16-part" train.steps=8
expect_code 0
[[ "$(sha "$work/bf16-part")" == "$(sha "$work/bf16")" ]] || fail "bf16 resumed: $(sha "$work/bf16-part"), uninterrupted: $(sha "$work/bf16")"
run run --resume "$work/bf16-part" run.precision=fp32
expect_code 2
expect_err "run.precision"

# 3. validate --cost: under bf16 the estimate adds autocast's bf16 copy of every trained weight (2 bytes each).
"$MMDEBIAS" validate --cost --json "$manifest" >"$work/fp32.json" || fail "validate --cost"
"$MMDEBIAS" validate --cost --json "$manifest" run.precision=bf16 >"$work/bf16.json" || fail "validate --cost bf16"
"$PYTHON" - "$work/fp32.json" "$work/bf16.json" <<'PY' || fail "validate --cost does not count bf16's weight casts"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
assert a["precision"] == "fp32" and a["cast_bytes"] == 0 and b["precision"] == "bf16", (a["precision"], b["precision"])
assert b["cast_bytes"] == 2 * b["parameters"] and b["memory_bytes"] - a["memory_bytes"] == b["cast_bytes"], (a, b)
PY

# 4. An infinity in step 3's gradients: the step is skipped, the scale halves, the log says so.
MMDEBIAS_TEST_INF_GRADIENT_AT_STEP=3 run run "$manifest" "${short[@]}" run.loss_scale=dynamic train.checkpoint_every=1 --out "$work/inf"
expect_code 0
expect_err "step 3: gradients overflowed under the loss scale (inf or NaN); the step is skipped and the scale lowered from 65536 to 32768"
"$PYTHON" - "$work/inf" <<'PY' || fail "the loss scale's record in metrics.jsonl or summary.json is wrong"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl") if '"train"' in l]
scale = {l["step"]: (l["loss_scale"], l["skipped_steps"]) for l in lines}
assert scale[2] == (65536.0, 0) and scale[3] == (32768.0, 1) and scale[8] == (32768.0, 1), scale
train = json.load(open(sys.argv[1] + "/summary.json"))["train"]
assert train["loss_scale"] == 32768.0 and train["skipped_steps"] == 1, train
PY
# The skipped step left the weights as step 2 had them (checkpoints 2 and 3 kept: the run keeps two, stop at 3).
MMDEBIAS_TEST_INF_GRADIENT_AT_STEP=3 run run "$manifest" "${short[@]}" train.steps=3 run.loss_scale=dynamic train.checkpoint_every=1 --out "$work/skip"
expect_code 0
"$PYTHON" - "$work/skip/checkpoints" <<'PY' || fail "step 3 was skipped but the weights changed"
import sys, torch
d = sys.argv[1]
p = [dict(torch.jit.load(f"{d}/ckpt-00000000{s}.pt").model.named_parameters()) for s in (2, 3)]
assert p[0].keys() == p[1].keys() and len(p[0]) > 0
assert all(torch.equal(p[0][k], p[1][k]) for k in p[0]), "weights differ"
PY

# 5. Stopped after the overflow (steps 1-5), resumed to 8: the scale is the checkpoint's (32768, not a fresh 65536)
#    and the run ends where the uninterrupted one ends.
MMDEBIAS_TEST_INF_GRADIENT_AT_STEP=3 run run "$manifest" "${short[@]}" train.steps=5 run.loss_scale=dynamic --out "$work/part"
expect_code 0
run run --resume "$work/part" train.steps=8
expect_code 0
"$PYTHON" - "$work/part" "$work/inf" <<'PY' || fail "the resumed run did not continue the loss scale or its weights differ"
import json, sys
def read(d):
    lines = [json.loads(l) for l in open(d + "/metrics.jsonl") if '"train"' in l]
    return {l["step"]: (l["loss_scale"], l["skipped_steps"]) for l in lines}, json.load(open(d + "/summary.json"))
part, whole = read(sys.argv[1]), read(sys.argv[2])
assert part[0][6] == (32768.0, 1) and part[0][8] == (32768.0, 1), part[0]
assert part[1]["params_sha256"] == whole[1]["params_sha256"], (part[1]["params_sha256"], whole[1]["params_sha256"])
PY
finish
