# Evaluation: scorer statistics fitted at the end of a run are saved in the run directory and reused by
# `mmdebias eval` (refitted when their options change); an intervention that adjusts predictions gets the
# factual metrics reported beside the adjusted ones; component metrics are averaged over batches.
source "$(dirname "$0")/lib.bash"
work=$(mktemp -d)
trap 'rm -rf "$work" "$out" "$err"' EXIT
manifest="$SRC/tests/runs/fitted.yaml"
json() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }

run run "$manifest" --plugin-path "$FIXTURES/fixture" --out "$work/r"
expect_code 0
[[ -f "$work/r/scorers/scorers.centroid.pt" ]] || fail "the fitted scorer's statistics were not saved (scorers/: $(ls "$work/r/scorers" 2>&1))"
[[ ! -f "$work/r/scorers/scorers.msp.pt" ]] || fail "a scorer without statistics got a file"
expect_out "accuracy (factual)"

s="$work/r/summary.json"
# fixture.shift adds 100 to class 0: the adjusted model predicts class 0 for (nearly) everything.
[[ "$(json "$s" 'round(d["eval"]["classification"]["accuracy"], 6) != round(d["eval"]["factual"]["classification"]["accuracy"], 6)')" == True ]] ||
  fail "factual and adjusted accuracy should differ: $(json "$s" 'd["eval"]')"
[[ "$(json "$s" 'sum(row[0] for row in d["eval"]["classification"]["confusion"]) == d["eval"]["count"] - d["eval"]["count_ood"]')" == True ]] ||
  fail "the adjusted predictions are not all class 0"
# 105 test samples (70 + 35 OOD) in batches of 32: 32, 32, 32, 9 rows; the mean over batches is 105/4.
[[ "$(json "$s" 'abs(d["eval"]["components"]["interventions.shift/rows"] - 105/4) < 1e-9')" == True ]] ||
  fail "component metric is not the mean over batches: $(json "$s" 'd["eval"].get("components")')"

run eval "$work/r" --plugin-path "$FIXTURES/fixture"
expect_code 0
e="$work/r/eval-test.json"
[[ "$(json "$e" 'd["scorer_statistics_reused"]')" == "['scorers.centroid']" ]] || fail "eval refitted instead of reusing: $(json "$e" 'd.get("scorer_statistics_reused")')"
[[ "$(json "$e" 'd["ood"]["centroid"]["auroc"]')" == "$(json "$s" 'd["eval"]["ood"]["centroid"]["auroc"]')" ]] ||
  fail "reused statistics score differently from the run's own"
grep -q "fitted" "$work/r/log.txt" || fail "the run's fit pass left no log line"
before=$(grep -c "\] fitted" "$work/r/log.txt")
run eval "$work/r" --plugin-path "$FIXTURES/fixture" 'eval.scorers=[{type: fixture.centroid, scale: 2.0}]'
expect_code 0
[[ "$(json "$e" 'd["scorer_statistics_reused"]')" == "[]" ]] || fail "statistics reused although the scorer's options changed"
[[ $(grep -c "\] fitted" "$work/r/log.txt") -gt $before ]] || fail "changed options did not refit"

# A corrupt statistics file is refused with the file named and the way out.
echo garbage > "$work/r/scorers/scorers.centroid.pt"
run eval "$work/r" --plugin-path "$FIXTURES/fixture"
expect_code 2
expect_err "scorers.centroid.pt cannot be read"
expect_err "delete the file"
finish
