# causalmm through the host: describe, a refused site pattern located in the manifest, a run that trains with
# the contrast term and evaluates with the contrast (per-site effect logged), `eval` reproducing the run's
# evaluation, and gamma = 0, epsilon = 0 predicting exactly what the model without the intervention predicts.
source "$SRC/tests/cli/lib.bash"
work=$(mktemp -d)
trap 'rm -rf "$work" "$out" "$err"' EXIT
manifest="$SRC/tests/methods/causalmm/tiny.yaml"
field() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval("d"+sys.argv[2]))' "$@"; }

run describe causalmm.counterfactual_attention
expect_code 0
for option in sites levels edit gamma epsilon samples loss_weight site_effects; do expect_out "$option"; done

run validate "$manifest" 'interventions.0.sites=[encoders.text.*]'
expect_code 2
expect_err "'encoders.text.*' matches none of the model's attention sites (fusion.layer0)"
expect_err "interventions.0"

run run "$manifest" --out "$work/a" 'interventions.0.sweep_edits=[reversed, random]' 'interventions.0.sweep_gammas=[0, 1]' \
  'interventions.0.sweep_epsilons=[0.1]'
expect_code 0
python3 - "$work/a" <<'PY' || fail "the run lacks the training term or the evaluation's causal effect"
import json, sys
d = sys.argv[1]
train = [json.loads(l) for l in open(d + "/metrics.jsonl") if '"train"' in l]
assert train and all("causalmm/contrast_ce" in t["terms"] for t in train), train[:1]
assert all(t["terms"]["causalmm/contrast_ce"] > 0 for t in train)
ev = json.load(open(d + "/summary.json"))["eval"]
ace = ev["components"]["interventions.causalmm/ace/fusion.layer0"]
assert ace > 0, ace
assert 0 <= ev["components"]["interventions.causalmm/changed"] <= 1
print("ace", ace, "accuracy", ev["classification"]["accuracy"])
# The what-if sweep: its entry for the configured setting (reversed, gamma 1, epsilon 0.1) is the evaluation
# itself, overall and per group; gamma 0 is the factual prediction (up to the cut-off, which keeps the arg-max).
c = {k.split("/", 1)[1]: v for k, v in ev["components"].items()}
acc = lambda v, g="": c[f"sweep/{v}/correct{g}"] / c[f"sweep/count{g}"]
cls = ev["classification"]
assert abs(acc("reversed/g1/e0.1") - cls["accuracy"]) < 1e-12, (acc("reversed/g1/e0.1"), cls["accuracy"])
groups = [k.rsplit("/", 1)[1] for k in c if k.startswith("sweep/count/group")]
assert groups, c.keys()
worst = min(acc("reversed/g1/e0.1", "/" + g) for g in groups)
assert abs(worst - cls["worst_group_accuracy"]) < 1e-12, (worst, cls["worst_group_accuracy"])
assert abs(acc("random/g0/e0.1") - ev["factual"]["classification"]["accuracy"]) < 1e-12
assert abs(acc("reversed/g0/e0.1") - ev["factual"]["classification"]["accuracy"]) < 1e-12
PY

# eval of the checkpoint gives the run's final evaluation (the reversed edit draws nothing).
run eval "$work/a" --json
expect_code 0
python3 - "$work/a/summary.json" "$out" <<'PY' || fail "eval differs from the run's final evaluation"
import json, sys
a = json.load(open(sys.argv[1]))["eval"]; b = json.load(open(sys.argv[2]))
assert a["classification"]["confusion"] == b["classification"]["confusion"]
assert abs(a["components"]["interventions.causalmm/ace/fusion.layer0"] - b["components"]["interventions.causalmm/ace/fusion.layer0"]) < 1e-9
PY

# gamma = 0 and epsilon = 0 (training term off): the same weights and the same predictions as no intervention.
run run "$manifest" --out "$work/g0" interventions.0.gamma=0 interventions.0.epsilon=0 interventions.0.loss_weight=0
expect_code 0
run run "$manifest" --out "$work/none" 'interventions=[]'
expect_code 0
[[ "$(field "$work/g0/summary.json" '["params_sha256"]')" == "$(field "$work/none/summary.json" '["params_sha256"]')" ]] ||
  fail "an inference-only intervention changed training"
[[ "$(field "$work/g0/summary.json" '["eval"]["classification"]["confusion"]')" == "$(field "$work/none/summary.json" '["eval"]["classification"]["confusion"]')" ]] ||
  fail "gamma = 0, epsilon = 0 changed the predictions"
finish
