#!/usr/bin/env bash
# The a2d benchmark: near-OOD on fashion-captions (held-out classes) and av-digits (held-out digits);
# baseline vs A2D vs A2D + NP-Mix, SEEDS seeds each, every scorer: FPR@95, AUROC and ID accuracy, mean ± std.
# Usage: bench/a2d.sh [BUILD_DIR] [OUT_DIR]   (env SEEDS="0 1 2", JOBS=2). Prints a Markdown table and
# writes it, with the raw numbers, to OUT_DIR/results.{md,json}.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build}
out=${2:-$src/runs/bench-a2d}
seeds=${SEEDS:-"0 1 2"}
jobs=${JOBS:-2}
host="$build/bin/mmdebias"
mkdir -p "$out"

# Method settings as overrides: the baseline trains the fused cross-entropy only; A2D adds the unimodal
# cross-entropies and the disagreement term (defaults); A2D + NP-Mix adds outliers from start_epoch on
# (scaled to these short runs: epoch 3 of 8, epoch 6 of 20; queue 65 as released).
a2d='interventions=[{type: a2d.disagree}]'
npmix_fc='interventions=[{type: a2d.disagree}, {type: a2d.npmix, start_epoch: 3}]'
npmix_av='interventions=[{type: a2d.disagree}, {type: a2d.npmix, start_epoch: 6}]'

# One script per run (quoting survives), run JOBS at a time.
mkdir -p "$out/commands"
rm -f "$out/commands"/*.sh
for seed in $seeds; do
  for ds in fc av; do
    manifest="$src/bench/a2d/$([[ $ds == fc ]] && echo fashion-captions || echo av-digits).yaml"
    npmix=$([[ $ds == fc ]] && echo "$npmix_fc" || echo "$npmix_av")
    for method in baseline a2d npmix; do
      case $method in baseline) extra="" ;; a2d) extra="'$a2d'" ;; npmix) extra="'$npmix'" ;; esac
      echo "\"$host\" run \"$manifest\" --out \"$out/$ds-$method-$seed\" run.seed=$seed $extra >\"$out/$ds-$method-$seed.log\" 2>&1 || echo \"FAILED: $ds-$method-$seed\" >&2" \
        >"$out/commands/$seed-$ds-$method.sh"  # seed first: methods alternate in time
    done
  done
done
rm -rf "$out"/fc-* "$out"/av-*
start=$(date +%s)
ls "$out/commands"/*.sh | xargs -P "$jobs" -n 1 bash
echo "wall: $(( $(date +%s) - start )) s for $(ls "$out/commands" | wc -l) runs, $jobs at a time" >&2

/usr/bin/python3 - "$out" <<'PY'
import glob, json, os, statistics, sys
out = sys.argv[1]
rows = {}
for f in glob.glob(os.path.join(out, "*", "*", "summary.json")) + glob.glob(os.path.join(out, "*", "summary.json")):
    run = os.path.relpath(f, out).split(os.sep)[0]
    ds, method, seed = run.rsplit("-", 2)
    s = json.load(open(f))
    ev = s["eval"]
    for scorer, m in ev.get("ood", {}).items():
        rows.setdefault((ds, method, scorer), []).append((m["fpr_at_95tpr"], m["auroc"], ev["classification"]["accuracy"], s["train"]["seconds"]))
def ms(xs):
    return f"{statistics.mean(xs):.3f} ± {statistics.stdev(xs) if len(xs) > 1 else 0:.3f}"
names = {"fc": "fashion-captions", "av": "av-digits"}
methods = ["baseline", "a2d", "npmix"]
labels = {"baseline": "baseline", "a2d": "A2D", "npmix": "A2D + NP-Mix"}
scorers = ["msp", "energy", "maxlogit", "mahalanobis", "knn", "gen", "vim", "react", "ash"]
lines = []
for ds in ["fc", "av"]:
    lines.append(f"\n**{names[ds]}** (near-OOD). FPR@95 (lower is better) / AUROC (higher is better); mean ± std over seeds.\n")
    lines.append("| scorer | " + " | ".join(f"{labels[m]} FPR@95 | {labels[m]} AUROC" for m in methods) + " |")
    lines.append("|---|" + "---|---|" * len(methods))
    for sc in scorers:
        cells = []
        for m in methods:
            r = rows.get((ds, m, sc), [])
            cells += [ms([x[0] for x in r]), ms([x[1] for x in r])] if r else ["—", "—"]
        lines.append(f"| {sc} | " + " | ".join(cells) + " |")
    acc = []
    for m in methods:
        r = rows.get((ds, m, "msp"), [])
        acc.append(f"{labels[m]}: {ms([x[2] for x in r])} (n = {len(r)}, median training time {statistics.median([x[3] for x in r]):.1f} s)" if r else f"{labels[m]}: —")
    lines.append("\nID accuracy: " + "; ".join(acc) + ".")
text = "\n".join(lines)
print(text)
open(os.path.join(out, "results.md"), "w").write(text + "\n")
json.dump({"|".join(k): v for k, v in rows.items()}, open(os.path.join(out, "results.json"), "w"), indent=1)
PY
