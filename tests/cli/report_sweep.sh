# mmdebias report SWEEP_DIR: a sweep directory (sweep.json as `mmdebias sweep` writes it; here the hand-made
# fixture tests/report/sweep_fixture) becomes one page with the grid, a table per metric group whose every
# cell equals the fixture's numbers formatted for people, the paired differences to the baseline (intervals
# that exclude zero marked), a figure per metric rendered by headless Chromium, and links to the runs.
# sweep.json missing or malformed: exit 2 naming the file and the field.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/report_lib.bash"
work=$(mktemp -d)
trap 'rm -rf "$work" "$out" "$err"' EXIT
command -v chromium >/dev/null || { echo "FAIL: chromium is not installed (scripts/setup --tests installs it)"; exit 1; }

fixture="$SRC/tests/report/sweep_fixture/sweep.json"
mkdir -p "$work/sweep/interventions.1.gamma=0/seed-0"
cp "$fixture" "$work/sweep/sweep.json"
echo "<!DOCTYPE html><title>run</title>" >"$work/sweep/interventions.1.gamma=0/seed-0/report.html"  # one run's report is written

run report "$work/sweep"
expect_code 0
expect_out "wrote $work/sweep/report.html"
# Every metric but the counts (the same in every run) gets a figure.
mapfile -t ids < <(python3 -c '
import json, re, sys
d = json.load(open(sys.argv[1]))
names = sorted({m for c in d["configs"] for m in {**c["metrics"], **c.get("timing", {})} if not m.endswith(".count")})
print("\n".join("sweep-" + re.sub(r"[^a-z0-9]", "-", m.lower()) for m in names))' "$fixture")
[[ ${#ids[@]} -ge 8 ]] || fail "the fixture should give 8 figures, the test computed ${#ids[@]}"
figures "$work/sweep/report.html" "${ids[@]}"
screenshot "$work/sweep/report.html" sweep.png

# The tables: each (metric, configuration) row holds the fixture's mean ± std, interval, n and difference, formatted.
python3 - "$fixture" "$work/dom.html" <<'PY' || fail "the sweep tables do not show the fixture's values (above)"
import html.parser, json, sys
d = json.load(open(sys.argv[1]))
class Rows(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(); self.rows = {}; self.row = None; self.cell = None
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and "data-metric" in a: self.row = self.rows.setdefault((a["data-metric"], a["data-config"]), {})
        if tag == "td" and self.row is not None:
            classes = (a.get("class") or "").split()
            self.cell = next((c for c in classes if c in ("mean", "ci", "count", "dmean", "dci")), None)
            if self.cell: self.row[self.cell] = ""; self.row[self.cell + "-class"] = classes
    def handle_endtag(self, tag):
        if tag == "td": self.cell = None
        if tag == "tr": self.row = None
    def handle_data(self, data):
        if self.row is not None and self.cell: self.row[self.cell] += data
p = Rows(); p.feed(open(sys.argv[2]).read())

def sig(v, digits):
    if abs(v) >= 1000: return f"{round(v):,}"
    return f"%.{digits}g" % v
def unit(m):
    leaf = m.rsplit(".", 1)[1]
    if leaf == "samples_per_s": return "rate"
    if leaf == "seconds": return "s"
    return "pct"
def bare(v, u):
    if u == "pct": return "%.2f" % (v * 100)
    if u == "rate": return f"{round(v):,}" if abs(v) >= 100 else sig(v, 3)
    return sig(v, 3)
suffix = {"pct": "%", "rate": "", "s": ""}  # other units are named once, in the metric's label
def delta(v, u):
    if v == 0: return "±0"
    return ("+" if v > 0 else "-") + bare(abs(v), u) + (" pp" if u == "pct" else "")
bad, checked = [], 0
for c in d["configs"]:
    for m, s in {**c["metrics"], **c.get("timing", {})}.items():
        if m.endswith(".count"):
            if (m, c["name"]) in p.rows: bad.append(f"{m} is a count, shown anyway")
            continue
        u, row = unit(m), p.rows.get((m, c["name"]))
        if row is None: bad.append(f"no row for {m} / {c['name']}"); continue
        want = {"mean": f"{bare(s['mean'], u)} ± {bare(s['std'], u)}{suffix[u]}" if s["std"] is not None else bare(s["mean"], u) + suffix[u],
                "ci": f"[{bare(s['ci95'][0], u)}, {bare(s['ci95'][1], u)}]{suffix[u]}" if s["ci95"] else "–",
                "count": str(s["n"])}
        v = c.get("vs_baseline", {}).get(m)
        if v:
            excl = v["ci95"] is not None and (v["ci95"][0] > 0 or v["ci95"][1] < 0)
            want["dmean"] = delta(v["mean"], u)
            want["dci"] = f"[{delta(v['ci95'][0], u)}, {delta(v['ci95'][1], u)}]" + (" *" if excl else "")
            if excl != ("sig" in row.get("dci-class", [])): bad.append(f"{m} / {c['name']}: interval {v['ci95']} marked {not excl}")
        else:
            want["dmean"] = want["dci"] = "–"
        for k, w in want.items():
            checked += 1
            if row.get(k, "").strip() != w: bad.append(f"{m} / {c['name']} {k}: page '{row.get(k, '').strip()}', fixture '{w}'")
print("\n".join(bad) if bad else f"{checked} cells equal the fixture's")
sys.exit(1 if bad or checked < 100 else 0)
PY
# The grid of runs: a failed run shown failed, links relative to the page, to the report where one is written.
grep -q 'href="interventions.1.gamma=0/seed-0/report.html"' "$work/sweep/report.html" || fail "no link to the written run report"
grep -q 'href="interventions.1.gamma=0/seed-1"' "$work/sweep/report.html" || fail "no link to a run directory without a report"
grep -q '<td class=failed title="interventions.1.gamma=4/seed-3: failed">' "$work/sweep/report.html" || fail "the failed run is not marked failed"
# --out elsewhere: the links follow the page.
run report "$work/sweep" --out "$work/elsewhere.html"
expect_code 0
grep -q 'href="sweep/interventions.1.gamma=0/seed-0/report.html"' "$work/elsewhere.html" || fail "links are not relative to the page written elsewhere"

# No baseline: no difference columns, and no dashed baseline.
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d["baseline"]=None; [c.pop("vs_baseline", None) for c in d["configs"]]; json.dump(d, open(sys.argv[2], "w"))' \
  "$fixture" "$work/nobase.json"
mkdir -p "$work/nobase" && cp "$work/nobase.json" "$work/nobase/sweep.json"
run report "$work/nobase"
expect_code 0
grep -q "Δ vs baseline" "$work/nobase/report.html" && fail "a sweep without baseline shows differences"

# Refusals, each naming sweep.json and what it should hold (exit 2).
bad_sweep() {  # bad_sweep NAME PYTHON-EDIT EXPECTED-STDERR
  mkdir -p "$work/$1"
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); $2; json.dump(d, open(sys.argv[2], 'w'))" "$fixture" "$work/$1/sweep.json"
  run report "$work/$1"
  expect_code 2
  expect_err "$work/$1/sweep.json"
  expect_err "$3"
}
bad_sweep version 'd["sweep"]=2' "format version 2"
bad_sweep noconfigs 'del d["configs"]' 'lacks "configs"'
bad_sweep meanstring 'd["configs"][1]["metrics"]["eval.classification.accuracy"]["mean"]="0.8"' \
  "configs[1].metrics.eval.classification.accuracy.mean should be a number, it is the string \"0.8\""
bad_sweep status 'd["configs"][0]["runs"][2]["status"]="done"' 'configs[0].runs[2].status should be "finished", "failed" or "missing", it is the string "done"'
bad_sweep ci 'd["configs"][0]["timing"]["train.seconds"]["ci95"]=[1]' "configs[0].timing.train.seconds.ci95 should be [low, high] or null, it is an array of 1"
bad_sweep baseline 'd["baseline"]="gamma=9"' 'baseline "gamma=9" names no configuration'
mkdir -p "$work/notjson" && echo '{"sweep": 1, "axes": [' >"$work/notjson/sweep.json"
run report "$work/notjson"
expect_code 2
expect_err "$work/notjson/sweep.json is not valid JSON"
mkdir -p "$work/empty"
run report "$work/empty"
expect_code 2
expect_err "$work/empty/sweep.json"
run report "$work/sweep" "$work/nobase"
expect_code 2
expect_err "is a sweep directory"
finish
