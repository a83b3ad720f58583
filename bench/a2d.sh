#!/usr/bin/env bash
# The a2d benchmark: near-OOD on fashion-captions (held-out classes) and av-digits (held-out digits);
# baseline vs A2D vs A2D + NP-Mix, SEEDS seeds each, every scorer: FPR@95, AUROC and ID accuracy, mean ± std,
# and each method's paired difference vs the baseline (AUROC, accuracy) with its 95% interval.
# One `mmdebias sweep` per dataset (arms: bench/a2d/<dataset>.arms.yaml, baseline arm=baseline).
# Usage: bench/a2d.sh [BUILD_DIR] [OUT_DIR]   (env SEEDS="0 1 2 3 4", JOBS=1, RESUME=0, OVERRIDES="train.epochs=2"
# for a quick check). Prints a Markdown table and writes it to OUT_DIR/results.md; the raw numbers are in
# OUT_DIR/{fc,av}/sweep.json and sweep.csv.
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
  # whatever JOBS (the sweep would split the cores): results depend on it.
  "$host" sweep "$src/bench/a2d/$name.yaml" --arms "$src/bench/a2d/$name.arms.yaml" --seeds "$seeds" --jobs "$jobs" \
    --baseline arm=baseline --out "$out/$ds" run.threads=1 "${extra[@]}" >&2
done
echo "wall: $(( $(date +%s) - start )) s, $jobs at a time" >&2

/usr/bin/python3 -I - "$out" <<'PY'
import json, os, statistics, sys
out = sys.argv[1]
names = {"fc": "fashion-captions", "av": "av-digits"}
methods = ["baseline", "a2d", "npmix"]
labels = {"baseline": "baseline", "a2d": "A2D", "npmix": "A2D + NP-Mix"}
scorers = ["msp", "energy", "maxlogit", "mahalanobis", "knn", "gen", "vim", "react", "ash"]
def ms(m):
    return "—" if m is None else f"{m['mean']:.3f} ± {m['std'] or 0:.3f}"
def diff(d):
    if d is None: return "—"
    if d["ci95"] is None: return f"{d['mean']:+.3f}"
    return f"{d['mean']:+.3f} [{d['ci95'][0]:+.3f}, {d['ci95'][1]:+.3f}]{'*' if d['excludes_zero'] else ''}"
lines = []
for ds in ["fc", "av"]:
    sweep = json.load(open(os.path.join(out, ds, "sweep.json")))
    cfg = {c["overrides"]["arm"]: c for c in sweep["configs"]}
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
    # The claim "a method helps" needs the paired difference over seeds and an interval that excludes zero.
    lines.append(f"\nPaired difference vs the baseline, mean of the per-seed differences [95% t-interval], * when it excludes 0:\n")
    lines.append("| scorer | " + " | ".join(f"{labels[m]} − baseline ΔAUROC | {labels[m]} − baseline ΔFPR@95" for m in methods[1:]) + " |")
    lines.append("|---|" + "---|---|" * (len(methods) - 1))
    for sc in scorers:
        cells = []
        for m in methods[1:]:
            vs = cfg[m].get("vs_baseline", {})
            cells += [diff(vs.get(f"eval.ood.{sc}.auroc")), diff(vs.get(f"eval.ood.{sc}.fpr_at_95tpr"))]
        lines.append(f"| {sc} | " + " | ".join(cells) + " |")
    acc = []
    for m in methods:
        a = metric(m, "eval.classification.accuracy")
        t = cfg[m].get("timing", {}).get("train.seconds")
        vs = cfg[m].get("vs_baseline", {}).get("eval.classification.accuracy")
        acc.append(f"{labels[m]}: {ms(a)}" + (f", Δ {diff(vs)}" if vs else "") +
                   f" (n = {a['n']}, median training time {statistics.median(t['values']):.1f} s)" if a else f"{labels[m]}: —")
    lines.append("\nID accuracy: " + "; ".join(acc) + ".")
    lines.append(f"\nCommand: `{sweep['command']}`; machine: {os.uname().nodename}, {os.cpu_count()} cores.")
text = "\n".join(lines)
print(text)
open(os.path.join(out, "results.md"), "w").write(text + "\n")
PY
