# mmdebias report: a tiny run (and a second one to compare) becomes a self-contained HTML page whose
# every plot renders in headless Chromium; the evaluator leaves per-sample scores for the ROC curves and
# histograms; a directory that is not a run, or a missing gnuplot, is refused with exit 2.
source "$(dirname "$0")/lib.bash"
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

# figures FILE ID...: renders FILE in headless Chromium and checks each id is a <figure> holding an <svg>
# with drawn paths, and that the page names nothing outside itself.
figures() {
  local file=$1
  shift
  timeout 120 chromium --headless --no-sandbox --disable-gpu --user-data-dir="$work/chromium" --dump-dom "file://$file" \
    >"$work/dom.html" 2>"$work/chromium.log" || { fail "chromium could not render $file: $(tail -3 "$work/chromium.log")"; return; }
  python3 - "$work/dom.html" "$@" <<'PY' || fail "the rendered page of $file lacks plots (above)"
import html.parser, sys
class Figures(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(); self.stack = []; self.paths = {}; self.svgs = {}; self.external = []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for k in ("src", "href", "xlink:href"):
            if k in a and ":" in (a[k] or "") and not a[k].startswith("#"): self.external.append(a[k])
        if tag in ("script", "link", "img", "iframe"): self.external.append(tag)
        if tag == "figure": self.stack.append(a.get("id"))
        fig = self.stack[-1] if self.stack else None
        if fig and tag == "svg": self.svgs[fig] = self.svgs.get(fig, 0) + 1
        if fig and tag == "path": self.paths[fig] = self.paths.get(fig, 0) + 1
    def handle_endtag(self, tag):
        if tag == "figure" and self.stack: self.stack.pop()
p = Figures(); p.feed(open(sys.argv[1]).read())
bad = [f"{i}: {p.svgs.get(i, 0)} svg, {p.paths.get(i, 0)} paths" for i in sys.argv[2:] if not p.svgs.get(i) or p.paths.get(i, 0) < 5]
if p.external: bad.append("external references: " + ", ".join(p.external[:5]))
print("\n".join(bad)); sys.exit(1 if bad else 0)
PY
}

start=$(date +%s.%N)
run report "$work/a"
expect_code 0
expect_out "wrote $work/a/report.html"
echo "report of one run: $(python3 -c "print(round($(date +%s.%N) - $start, 2))") s wall (host start-up included)"
figures "$work/a/report.html" loss eval modality roc-msp hist-msp confusion
grep -q "params_sha256" "$work/a/report.html" && grep -q "provenance" "$work/a/report.html" && grep -q "std.gaussian" "$work/a/report.html" ||
  fail "the report lacks the run table, the provenance or the resolved manifest"

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
[[ $(grep -c '<th>accuracy</th><td class=n>[0-9.]*</td><td class=n>[0-9.]*</td>' "$work/ab.html") -eq 1 ]] ||
  fail "the metric table does not hold both runs' accuracy side by side"

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
