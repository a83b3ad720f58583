# mmdebias report: a tiny run (and a second one to compare) becomes a self-contained HTML page whose every plot
# renders in headless Chromium, whose numbers are formatted for people (percentages, no raw long floats), with a
# header of what the run was and, for two runs, B - A with its sign and the manifest keys that differ; the
# evaluator leaves per-sample scores for the ROC curves and histograms; a directory that is not a run, or a
# missing gnuplot, is refused with exit 2. REPORT_SCREENS=DIR keeps screenshots of the pages.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/report_lib.bash"
work=$(mktemp -d)
trap 'rm -rf "$work" "$out" "$err"' EXIT
command -v chromium >/dev/null || { echo "FAIL: chromium is not installed (scripts/setup --tests installs it)"; exit 1; }

# The run: tiny.yaml cut to 2 epochs (a second or two).
run run "$SRC/tests/runs/tiny.yaml" --out "$work/a" train.epochs=2
expect_code 0
csv="$work/a/eval-scores-test.csv"
[[ "$(head -1 "$csv")" == "ood,label,predicted,msp" ]] || fail "per-sample scores missing or with another header: $(head -1 "$csv" 2>&1)"
count=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["eval"]["count"])' "$work/a/summary.json")
[[ $(($(wc -l <"$csv") - 1)) -eq $count ]] || fail "eval-scores-test.csv has $(($(wc -l <"$csv") - 1)) rows, the evaluation $count samples"

start=$(date +%s.%N)
run report "$work/a"
expect_code 0
expect_out "wrote $work/a/report.html"
echo "report of one run: $(python3 -c "print(round($(date +%s.%N) - $start, 2))") s wall (host start-up included)"
figures "$work/a/report.html" loss eval modality roc-msp hist-msp confusion
screenshot "$work/a/report.html" run.png
grep -q "params sha256" "$work/a/report.html" && grep -q "provenance" "$work/a/report.html" && grep -q "run.name\|name: tiny" "$work/a/report.html" ||
  fail "the report lacks the run facts, the provenance or the resolved manifest"
for fact in '<dt>dataset</dt><dd>std.gaussian</dd>' '<dt>model</dt><dd>m0: std.mlp, m1: std.mlp → std.concat</dd>' \
  '<dt>device</dt><dd>cpu · fp32 · 1 thread · 1 process</dd>' '<dt>run</dt><dd>tiny, seed 7</dd>'; do
  grep -qF "$fact" "$work/a/report.html" || fail "the header lacks $fact"
done
acc=$(python3 -c 'import json,sys; print("%.2f%%" % (100 * json.load(open(sys.argv[1]))["eval"]["classification"]["accuracy"]))' "$work/a/summary.json")
grep -qF "<tr><th>accuracy</th><td class=n>$acc</td></tr>" "$work/a/report.html" || fail "the metric table does not show accuracy as $acc"

# A second run to compare: ARL's reweighting when its plugin is built (its weights get a figure), else another lr.
b_args=(train.lr=0.02)
if [[ -f "$BUILD/lib/mmdebias/plugins/mmdebias-arl.so" ]]; then
  b_args=('estimators=[{type: arl.uncertainty, name: arl}]' 'interventions=[{type: arl.reweight, name: arl, start: 1}]' train.log_every=1)
fi
run run "$SRC/tests/runs/tiny.yaml" --out "$work/b" train.epochs=2 "${b_args[@]}"
expect_code 0
run report "$work/a" "$work/b" --out "$work/ab.html"
expect_code 0
ids=(loss eval modality roc-msp hist-msp-a hist-msp-b confusion-a confusion-b)
[[ ${#b_args[@]} -gt 1 ]] && ids+=(metrics-estimators-arl metrics-interventions-arl)
figures "$work/ab.html" "${ids[@]}"
screenshot "$work/ab.html" compare.png
[[ $(grep -cE '<th>accuracy</th><td class=n>[0-9.]+%</td><td class=n>[0-9.]+%</td><td class="n ?(better|worse)?">([+-][0-9.]+ pp|±0)</td>' "$work/ab.html") -eq 1 ]] ||
  fail "the metric table does not hold both runs' accuracy side by side with B - A"
diff_key=train.lr
[[ ${#b_args[@]} -gt 1 ]] && diff_key=estimators.0.type
grep -q "<table id=manifest-diff>.*" "$work/ab.html" && grep -qF "<td><code>$diff_key</code></td>" "$work/ab.html" ||
  fail "the comparison does not list $diff_key among the manifest differences"

# Refusals: not a run; no gnuplot (named with its Debian package).
run report "$work"
expect_code 2
expect_err "is not a run directory"
run report "$work/a" "$work/b" "$work/a"
expect_code 2
code=0
env -u MMDEBIAS_GNUPLOT PATH=/nonexistent "$MMDEBIAS" report "$work/a" >"$out" 2>"$err" || code=$?
expect_code 2
expect_err "gnuplot-nox"
finish
