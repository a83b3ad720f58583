#!/usr/bin/env bash
# Every shipped example (examples/*.yaml) trains under run.precision=bf16 on the CPU and ends within 0.03 of its
# fp32 test accuracy (the same seed, data and steps; bf16 rounds every matmul from the first step on, so the two
# runs part like two nearby trajectories: 0.03 is several times the differences measured when this test was
# written, and far below what a method computing its terms wrongly in bf16 loses). a2d.yaml runs 3 of its 8
# epochs (NP-Mix from epoch 1) to keep the test short; the others run as shipped. Prints a table of both.
# Then the a2d run trained in bf16 is evaluated in fp32 (below).
source "$(dirname "$0")/lib.bash"
work=$(mktemp -d)
trap 'rm -rf "$work" "$out" "$err"' EXIT
margin=0.03
declare -A extra=([a2d]="train.epochs=3 interventions.1.start_epoch=1")
for manifest in "$SRC"/examples/*.yaml; do
  name=$(basename "$manifest" .yaml)
  for p in fp32 bf16; do
    # shellcheck disable=SC2086  # the extra overrides are words
    run run "$manifest" ${extra[$name]:-} run.precision=$p run.threads=1 --out "$work/$name-$p"
    [[ $code -eq 0 ]] || { fail "$name under $p: exit $code"; continue 2; }
  done
  "$PYTHON" - "$work/$name-fp32" "$work/$name-bf16" "$name" "$margin" <<'PY' || fail "$name: bf16 is not within $margin of fp32"
import json, sys
a, b = (json.load(open(d + "/summary.json")) for d in sys.argv[1:3])
name, margin = sys.argv[3], float(sys.argv[4])
acc = [s["eval"]["classification"]["accuracy"] for s in (a, b)]
assert b["train"]["precision"] == "bf16", b["train"]
auroc = {k: (v["auroc"], b["eval"]["ood"][k]["auroc"]) for k, v in a["eval"].get("ood", {}).items()}
worst = max((abs(x - y) for x, y in auroc.values()), default=0.0)
print(f"{name:28s} accuracy fp32 {acc[0]:.4f} bf16 {acc[1]:.4f} (diff {acc[1] - acc[0]:+.4f}); "
      f"largest OOD AUROC diff {worst:.4f} over {len(auroc)} scorer(s)")
assert abs(acc[1] - acc[0]) <= margin, acc
PY
done

# Feature-space OOD scorers (Mahalanobis, ViM) scored on bf16 features lose AUROC (bf16 rounding fills the small-variance
# directions their distance weighs most: 0.970 -> 0.918 measured here for Mahalanobis); the documented remedy is to
# evaluate the bf16-trained weights in fp32, which must give every scorer its fp32 AUROC back within 0.02. ASH-B is left
# out: it keeps the top 10 % of 32-wide blocks (3 values), so the two runs' small weight differences change which values
# it keeps, and its AUROC moves by more than that (0.026 measured with a2d.yaml's separate heads; docs/methods/a2d.md:
# near chance with a spread of 0.1 over seeds), whatever the precision of the evaluation.
if [[ -f "$work/a2d-bf16/summary.json" ]]; then
  run eval "$work/a2d-bf16" run.precision=fp32 run.threads=1
  expect_code 0
  "$PYTHON" - "$work/a2d-fp32/summary.json" "$work/a2d-bf16/eval-test.json" <<'PY' || fail "a2d trained in bf16 and evaluated in fp32 is not within 0.02 AUROC of fp32"
import json, sys
a = json.load(open(sys.argv[1]))["eval"]["ood"]
b = json.load(open(sys.argv[2]))
b = b.get("eval", b)["ood"]
diff = {k: round(b[k]["auroc"] - a[k]["auroc"], 4) for k in a if k != "ash"}
print("a2d trained in bf16, evaluated in fp32: AUROC minus fp32's", diff)
assert max(abs(d) for d in diff.values()) <= 0.02, diff
PY
fi
finish
