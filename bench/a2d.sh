#!/usr/bin/env bash
# The a2d benchmark: near-OOD on fashion-captions (held-out classes) and av-digits (held-out digits);
# baseline vs A2D with a2d_ratio 0 vs A2D vs A2D + NP-Mix, SEEDS seeds each, every scorer: FPR@95, AUROC and ID
# accuracy, mean ± std; and each arm's paired difference (AUROC per scorer, accuracy) with its 95% interval vs the
# baseline and vs the a2d_ratio 0 arm (the base-loss change and separate heads without the disagreement term), so
# that "A2D vs a2d_ratio 0" isolates the disagreement itself.
# One `mmdebias sweep` per dataset (arms: bench/a2d/<dataset>.arms.yaml), aggregated twice by the host: once with
# --baseline arm=a2d_ratio0 (kept as sweep-vs-a2d_ratio0.json; the runs are not repeated) and once with
# --baseline arm=baseline (sweep.json).
# Usage: bench/a2d.sh [BUILD_DIR] [OUT_DIR]   (env SEEDS="0 1 2 3 4", JOBS=1, RESUME=0, OVERRIDES="train.epochs=2"
# for a quick check). Prints Markdown tables and writes them to OUT_DIR/results.md; the raw numbers are in
# OUT_DIR/{fc,av}/sweep.json (and sweep-vs-a2d_ratio0.json) and sweep.csv.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build}
out=${2:-$src/runs/bench-a2d}
seeds=${SEEDS:-"0 1 2 3 4"}
jobs=${JOBS:-1}
host="$build/bin/mmdebias"
read -ra extra <<<"${OVERRIDES:-}"
read -ra seed_list <<<"$seeds"
seeds=$(IFS=,; echo "${seed_list[*]}")  # the sweep's syntax: 0,1,2
# A fresh bench by default (a rebuilt plugin must not reuse old runs); RESUME=1 continues a stopped one.
[[ ${RESUME:-0} == 1 ]] || rm -rf "$out/fc" "$out/av"
mkdir -p "$out"

start=$(date +%s)
for ds in fc av; do
  name=$([[ $ds == fc ]] && echo fashion-captions || echo av-digits)
  # Seed by seed, every arm of a seed together: methods alternate in time. run.threads=1 as in the manifests
  # whatever JOBS (the sweep would split the cores): results depend on it. The second sweep finds every run
  # finished and only pairs them against the other baseline.
  for base in a2d_ratio0 baseline; do
    "$host" sweep "$src/bench/a2d/$name.yaml" --arms "$src/bench/a2d/$name.arms.yaml" --seeds "$seeds" --jobs "$jobs" \
      --baseline arm=$base --out "$out/$ds" run.threads=1 "${extra[@]}" >&2
    [[ $base == baseline ]] || cp "$out/$ds/sweep.json" "$out/$ds/sweep-vs-$base.json"
  done
done
echo "wall: $(( $(date +%s) - start )) s, $jobs at a time" >&2

/usr/bin/python3 -I - "$out" "$src/bench" <<'PY'
import json, os, platform, statistics, sys
out = sys.argv[1]
sys.path.insert(0, sys.argv[2])
from sweep_summary import paired
names = {"fc": "fashion-captions", "av": "av-digits"}
methods = ["baseline", "a2d_ratio0", "a2d", "npmix"]
labels = {"baseline": "baseline", "a2d_ratio0": "A2D ratio 0", "a2d": "A2D", "npmix": "A2D + NP-Mix"}
scorers = ["msp", "energy", "maxlogit", "mahalanobis", "knn", "gen", "vim", "react", "ash"]
# (arm, reference arm): every arm vs the baseline, and the disagreement arms vs A2D with a2d_ratio 0.
pairs = [("a2d_ratio0", "baseline"), ("a2d", "baseline"), ("npmix", "baseline"), ("a2d", "a2d_ratio0"), ("npmix", "a2d_ratio0")]
def ms(m):
    return "—" if m is None else f"{m['mean']:.3f} ± {m['std'] or 0:.3f}"
def configs(path):
    return {c["overrides"]["arm"]: c for c in json.load(open(path))["configs"]}
lines = []
for ds in ["fc", "av"]:
    sweep = json.load(open(os.path.join(out, ds, "sweep.json")))
    by_ref = {"baseline": configs(os.path.join(out, ds, "sweep.json")),
              "a2d_ratio0": configs(os.path.join(out, ds, "sweep-vs-a2d_ratio0.json"))}
    cfg = by_ref["baseline"]
    metric = lambda m, key: cfg[m]["metrics"].get(key)
    lines.append(f"\n**{names[ds]}** (near-OOD). FPR@95 (lower is better) / AUROC (higher is better); mean ± std over seeds "
                 f"{', '.join(map(str, sweep['seeds']))}.\n")
    lines.append("| scorer | " + " | ".join(f"{labels[m]} FPR@95 | {labels[m]} AUROC" for m in methods) + " |")
    lines.append("|---|" + "---|---|" * len(methods))
    for sc in scorers:
        cells = []
        for m in methods:
            cells += [ms(metric(m, f"eval.ood.{sc}.fpr_at_95tpr")), ms(metric(m, f"eval.ood.{sc}.auroc"))]
        lines.append(f"| {sc} | " + " | ".join(cells) + " |")
    acc = []
    for m in methods:
        a = metric(m, "eval.classification.accuracy")
        t = cfg[m].get("timing", {}).get("train.seconds")
        acc.append(f"{labels[m]} {ms(a)} (n = {a['n']}, median training time {statistics.median(t['values']):.1f} s)" if a else f"{labels[m]} —")
    lines.append("\nID accuracy: " + "; ".join(acc) + ".")
    # "A method helps" needs the paired difference over seeds and an interval that excludes zero.
    lines.append("\nPaired differences (seeds paired), mean [95% t-interval], * when it excludes 0; ΔAUROC per scorer, then Δ accuracy:\n")
    lines.append("| metric | " + " | ".join(f"{labels[a]} − {labels[r]}" for a, r in pairs) + " |")
    lines.append("|---|" + "---|" * len(pairs))
    for key, label in [(f"eval.ood.{sc}.auroc", f"AUROC {sc}") for sc in scorers] + [("eval.classification.accuracy", "accuracy")]:
        lines.append(f"| {label} | " + " | ".join(paired(by_ref[r][a], key) for a, r in pairs) + " |")
    lines.append(f"\nCommand: `{sweep['command']}`; machine: {platform.node()}, {os.cpu_count()} cores.")
text = "\n".join(lines)
print(text)
open(os.path.join(out, "results.md"), "w").write(text + "\n")
PY
