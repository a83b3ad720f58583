# infomin through the host: TE-D and ATE-D runs on std.gaussian with a spurious attribute; κ <= 1 in the
# logged metrics; the K-means centroids are saved with the run and `eval` reproduces the run's evaluation;
# validation names a missing confounder and a bad option.
source "$SRC/tests/cli/lib.bash"
work=$(mktemp -d)
trap 'rm -rf "$work" "$out" "$err"' EXIT

cat >"$work/base.yaml" <<'YAML'
mmdebias: 1
data: {type: std.gaussian, modalities: 2, dim: 6, classes: 3, spurious: true, rho_train: 0.9, rho_test: 0.1,
       train_size: 384, val_size: 64, test_size: 192}
model:
  encoders:
    m0: {type: std.mlp, hidden: [16], out_dim: 8}
    m1: {type: std.mlp, hidden: [16], out_dim: 8}
  fusion: {type: std.concat}
train: {epochs: 3, batch_size: 64, optimizer: adam, lr: 0.01, log_every: 1}
run: {name: infomin, seed: 2, threads: 1}
YAML
{ cat "$work/base.yaml"; printf 'estimators: [{type: infomin.confounder}]\ninterventions: [{type: infomin.debias}]\n'; } >"$work/ted.yaml"
{ cat "$work/base.yaml"; printf 'interventions: [{type: infomin.backdoor, clusters: 4, fit_epoch: 0}]\n'; } >"$work/ated.yaml"
{ cat "$work/base.yaml"; printf 'interventions: [{type: infomin.debias}]\n'; } >"$work/orphan.yaml"
{ cat "$work/base.yaml"; printf 'estimators: [{type: infomin.confounder, bias_dim_factor: 0}]\n'; } >"$work/badopt.yaml"

# TE-D: the confounder's three terms are logged, κ = the rate term's weight stays <= 1.
run run "$work/ted.yaml" --out "$work/ted"
expect_code 0
python3 - "$work/ted/metrics.jsonl" <<'PY' || fail "TE-D metrics lack the confounder's terms or κ > 1"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if '"train"' in l]
assert lines, "no train lines"
for l in lines:
    for term in ("confounder/rate", "confounder/bias_ce", "confounder/contrastive"):
        assert term in l["terms"], (term, l["terms"])
    k = l["metrics"]["estimators.confounder/kappa"]
    assert 0 < k <= 1, k
PY

# ATE-D: centroids fitted after epoch 0, saved as a buffer [4, 16], and `eval` of the saved run agrees.
run run "$work/ated.yaml" --out "$work/ated"
expect_code 0
grep -q "fitted 4 substitute confounders" "$work/ated/log.txt" || fail "no 'fitted 4 substitute confounders' in the run's log"
"$PYTHON" - "$work/ated" <<'PY' || fail "the checkpoint lacks the fitted centroids"
import sys, torch
d = sys.argv[1]
m = torch.jit.load(d + "/checkpoints/" + open(d + "/checkpoints/latest").read().strip())
b = dict(m.model.named_buffers())
c = [v for k, v in b.items() if k.endswith("centroids")]
assert len(c) == 1 and tuple(c[0].shape) == (4, 16), {k: tuple(v.shape) for k, v in b.items()}
assert c[0].abs().sum() > 0
PY
python3 - "$work/ated/summary.json" <<'PY' || fail "the ATE-D evaluation does not log fitted = 1 and a moved gate (gate_shift > 0)"
import json, sys
c = json.load(open(sys.argv[1]))["eval"]["components"]
fitted = [v for k, v in c.items() if k.endswith("/fitted")]
shift = [v for k, v in c.items() if k.endswith("/gate_shift")]
assert fitted == [1.0] and len(shift) == 1 and 0 < shift[0] < 1, c
PY
run eval "$work/ated" --json
expect_code 0
python3 - "$work/ated/summary.json" "$out" <<'PY' || fail "eval of the saved ATE-D run differs from the run's own evaluation"
import json, sys
a = json.load(open(sys.argv[1]))["eval"]["classification"]; b = json.load(open(sys.argv[2]))["classification"]
assert a["confusion"] == b["confusion"], (a["confusion"], b["confusion"])
PY

# Validation: debias without the confounder, and an out-of-range option.
run validate "$work/orphan.yaml"
expect_code 2
expect_err "infomin_confounder"
run validate "$work/badopt.yaml"
expect_code 2
expect_err "bias_dim_factor"
finish
