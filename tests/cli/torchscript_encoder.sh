#!/usr/bin/env bash
# std.torchscript: encoders defined in Python (torch.jit.script, torch.jit.save) train here. The loss decreases; the
# parameters and buffers sit in checkpoints under their Python names; train() reaches the scripted module (a batch
# norm's running mean moves); a killed-and-resumed run ends where an uninterrupted one does; 2 ranks x 32 equal
# 1 rank x 64; a frozen one keeps the file's values; a wrong module is refused at validate, located.
source "$(dirname "$0")/lib.bash"
work=$(mktemp -d)
trap 'rm -rf "$work" "$out" "$err"' EXIT
cd "$work"

"$PYTHON" "$SRC/tests/python/scripted_encoders.py" || fail "scripting the encoders"

manifest() {  # manifest FILE M0_MAP
  printf 'mmdebias: 1\ndata: {type: std.gaussian}\nmodel:\n  encoders:\n    m0: %s\n    m1: {type: std.mlp, hidden: [16]}\n  fusion: {type: std.concat}\ntrain: {epochs: 4, batch_size: 64, log_every: 5, checkpoint_every: 20}\nrun: {seed: 5}\n' "$2" >"$1"
}
manifest ts.yaml "{type: std.torchscript, path: enc.pt}"
run validate ts.yaml
expect_code 0
run validate ts.yaml --cost
expect_code 0
expect_out "encoders.m0"

# Trains: the loss falls, the names are Python's, the buffer is kept.
run run ts.yaml --out one
expect_code 0
"$PYTHON" - <<'PY' || fail "training a scripted encoder"
import json, torch
loss = [json.loads(l)["loss"] for l in open("one/metrics.jsonl") if json.loads(l).get("type") == "train"]
assert loss[-1] < 0.8 * loss[0], (loss[0], loss[-1])
m = torch.jit.load("one/checkpoints/" + open("one/checkpoints/latest").read().strip())
names = {k for k, _ in m.model.named_parameters()} | {k for k, _ in m.model.named_buffers()}
for n in ["encoders.m0.body.0.weight", "encoders.m0.body.1.weight", "encoders.m0.proj.bias", "encoders.m0.scale"]:
    assert n in names, (n, sorted(names))
first = torch.jit.load("enc.pt")
p = dict(m.model.named_parameters())
assert not torch.equal(p["encoders.m0.proj.weight"], first.proj.weight), "proj did not train"
print(f"loss {loss[0]:.3f} -> {loss[-1]:.3f}")
PY

# Killed mid-run (after its third checkpoint; checkpoints slowed to 100 ms) and resumed: the uninterrupted run's parameters.
run run ts.yaml --out long train.epochs=12
expect_code 0
MMDEBIAS_TEST_CHECKPOINT_PAUSE_MS=100 "$MMDEBIAS" run ts.yaml --out killed train.epochs=12 >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  step=$(tail -n 1 killed/metrics.jsonl 2>/dev/null | grep -o '"step":[0-9]*' | cut -d: -f2)
  [[ -n "$step" && "$step" -ge 60 ]] && break
  sleep 0.01
done
kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
[[ ! -f killed/summary.json ]] || fail "the run finished before it was killed: the kill tested nothing"
run run --resume killed
expect_code 0
sha() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["params_sha256"])' "$1/summary.json"; }
[[ "$(sha long)" == "$(sha killed)" ]] || fail "killed and resumed run differs: $(sha killed) vs $(sha long)"

# 2 ranks x 32 == 1 rank x 64.
two_ranks two ts.yaml train.batch_size=32
expect_params_close two one "a scripted encoder, 2 ranks x 32 and 1 rank x 64"

# train() reaches the scripted module: a batch norm's running mean moves; frozen keeps the file's values.
manifest bn.yaml "{type: std.torchscript, path: enc_bn.pt}"
run run bn.yaml --out bn train.epochs=1
expect_code 0
manifest frozen.yaml "{type: std.torchscript, path: enc.pt, trainable: false}"
run run frozen.yaml --out frozen train.epochs=1
expect_code 0
"$PYTHON" - <<'PY' || fail "train mode or freezing of a scripted encoder"
import torch
def ck(d): return torch.jit.load(d + "/checkpoints/" + open(d + "/checkpoints/latest").read().strip()).model
bn = dict(ck("bn").named_buffers())["encoders.m0.body.1.running_mean"]
assert bn.abs().sum() > 0, "running_mean never moved: the scripted module stayed in eval mode"
got = {k[len("encoders.m0."):]: v for k, v in ck("frozen").named_parameters() if k.startswith("encoders.m0.")}
want = dict(torch.jit.load("enc.pt").named_parameters())
assert got.keys() == want.keys(), (sorted(got), sorted(want))
assert all(torch.equal(got[k], want[k]) for k in want)
PY

# Refusals at validate, located at the encoder.
manifest flat.yaml "{type: std.torchscript, path: flat.pt}"
run validate flat.yaml
expect_code 2
expect_err "flat.yaml:5"
expect_err "on a sample batch [2, 8] forward returned [2]"
manifest broken.yaml "{type: std.torchscript, path: broken.pt}"
run validate broken.yaml
expect_code 2
expect_err "the scripted forward failed on a batch [2, 8]"
manifest absent.yaml "{type: std.torchscript, path: nowhere.pt}"
run validate absent.yaml
expect_code 2
expect_err "no TorchScript file 'nowhere.pt'"
# CausalMM needs attention sites; the validator says a scripted encoder has none.
printf 'interventions:\n  - {type: causalmm.counterfactual_attention, sites: ["*"]}\n' >>ts.yaml
run validate ts.yaml
expect_code 2
expect_err "encoders.m0 is a TorchScript encoder"
finish
