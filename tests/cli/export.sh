#!/usr/bin/env bash
# mmdebias export: the trained pipeline as TorchScript + safetensors. PyTorch loads model.pt and its logits on the
# first evaluation samples equal mmdebias's to 1e-5 (and its classes those `mmdebias run` wrote to
# eval-scores-test.csv) at any batch size; weights.safetensors, read by the safetensors package, holds the
# checkpoint's parameters exactly; a prediction adjusted by CausalInfoMin's TE-D and a TorchScript encoder export
# too; a prediction that draws random numbers (CausalMM's random edit) is refused, naming the intervention.
source "$(dirname "$0")/lib.bash"
work=$(mktemp -d)
trap 'rm -rf "$work" "$out" "$err"' EXIT
cd "$work"

# check_export RUN EXPORT: the export against the run (Python: Debian's or the wheel's torch; safetensors' own reader).
check_export() {
  "$TENSORBOARD_PYTHON" - "$2" <<'PY' || fail "$2: reading its safetensors with the safetensors package"
import sys, numpy as np, safetensors.numpy as st
np.savez(f"{sys.argv[1]}/weights.npz", **st.load_file(f"{sys.argv[1]}/weights.safetensors"))
PY
  "$PYTHON" - "$1" "$2" <<'PY' || fail "$2 does not reproduce $1"
import csv, json, sys, numpy as np, torch
run, ex = sys.argv[1], sys.argv[2]
m = torch.jit.load(f"{ex}/model.pt")
d = json.load(open(f"{ex}/pipeline.json"))
s = torch.load(f"{ex}/samples.pt")
inputs = s["inputs"]
assert sorted(inputs) == sorted(i["name"] for i in d["inputs"]), (sorted(inputs), d["inputs"])
want = s["logits"]
scale = want.abs().max()
for b in [1, 7, len(want)]:  # any batch size
    got = torch.cat([m({k: v[i:i + b] for k, v in inputs.items()}) for i in range(0, len(want), b)])
    worst = ((got - want).abs().max() / scale).item()
    assert worst < 1e-5, (b, worst)
pred = [int(r["predicted"]) for r in csv.DictReader(open(f"{run}/eval-scores-test.csv"))][:len(want)]
assert want.argmax(1).tolist() == pred, "the export's classes differ from eval-scores-test.csv"
ck = torch.jit.load(f"{run}/checkpoints/" + open(f"{run}/checkpoints/latest").read().strip()).model
w = np.load(f"{ex}/weights.npz")
state = dict(ck.named_parameters()) | dict(ck.named_buffers())
assert set(w.files) == set(state), (sorted(w.files), sorted(state))
assert all(np.array_equal(w[k], state[k].detach().numpy()) for k in state)
print(f"{ex}: {len(want)} samples, {d['batching']}, largest relative difference {worst:.1e}, in prediction: {d['in_prediction']}")
PY
}

# train_and_export NAME: trains NAME.yaml into NAME, exports it into NAME-export and checks the export.
train_and_export() {
  run run "$1.yaml" --out "$1"
  expect_code 0
  run export "$1" --out "$1-export"
  expect_code 0
  check_export "$1" "$1-export"
}

printf 'mmdebias: 1\ndata: {type: std.gaussian}\nmodel:\n  encoders: {m0: {type: std.mlp}, m1: {type: std.mlp}}\n  fusion: {type: std.concat}\ntrain: {epochs: 2}\nrun: {seed: 2}\n' >plain.yaml
train_and_export plain
expect_out 'logits = torch.jit.load("plain-export/model.pt")({"m0": x_m0, "m1": x_m1})'
# The directory is new or empty: an export never writes over another.
run export plain --out plain-export
expect_code 2
expect_err "exists and is not an empty directory"
ls -d plain-export.partial-* 2>/dev/null && fail "a partial export directory was left behind"

# CausalInfoMin's TE-D prediction (subtract_bias: logit - b_logit) is a tensor function: it is in the export.
printf 'mmdebias: 1\ndata: {type: std.gaussian, spurious: true}\nmodel:\n  encoders: {m0: {type: std.mlp}, m1: {type: std.mlp}}\n  fusion: {type: std.concat}\nestimators: [{type: infomin.confounder}]\ninterventions: [{type: infomin.debias, subtract_bias: true}]\ntrain: {epochs: 2}\nrun: {seed: 2}\n' >ted.yaml
train_and_export ted
expect_out 'prediction adjusted by: ["interventions.debias (infomin.debias)"]'

# A TorchScript encoder exports inside the pipeline.
"$PYTHON" "$SRC/tests/python/scripted_encoders.py" || fail "scripting the encoders"
printf 'mmdebias: 1\ndata: {type: std.gaussian}\nmodel:\n  encoders: {m0: {type: std.torchscript, path: enc_bn.pt}, m1: {type: std.mlp}}\n  fusion: {type: std.late}\ntrain: {epochs: 2}\nrun: {seed: 2}\n' >scripted.yaml
train_and_export scripted

# CausalMM with random attention edits draws random numbers at prediction: refused, naming it.
printf 'mmdebias: 1\ndata: {type: std.gaussian}\nmodel:\n  encoders: {m0: {type: std.mlp}, m1: {type: std.mlp}}\n  fusion: {type: std.cross_attention, dim: 8, heads: 2, layers: 1, ff_dim: 16}\ninterventions: [{type: causalmm.counterfactual_attention, sites: ["fusion.*"], edit: random}]\ntrain: {epochs: 1}\nrun: {seed: 2}\n' >cmm.yaml
run run cmm.yaml --out cmm
expect_code 0
run export cmm --out cmm-export
expect_code 2
expect_err "the prediction draws random numbers"
expect_err "interventions.counterfactual_attention (causalmm.counterfactual_attention)"
[[ ! -e cmm-export ]] || fail "a refused export left a directory"
finish
