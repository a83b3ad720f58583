#!/usr/bin/env bash
# docs/composing.md's table "Measured: the five-method run against each method alone": examples/composed.yaml
# with each row's estimators and interventions (bench/composed/arms.yaml), one `mmdebias sweep` over SEEDS with
# the no-method arm as the baseline. Prints the table in the doc's format (mean ± std in %) plus each row's
# paired accuracy difference vs the baseline with its 95% interval, and writes it to OUT/table.md.
#   bench/composed.sh [OUT]   (default runs/bench-composed; env MMDEBIAS=build/bin/mmdebias, SEEDS="0 1 2 3 4", JOBS=1,
#                              RESUME=0, OVERRIDES="train.epochs=1" for a quick check)
set -euo pipefail
cd "$(dirname "$0")/.."
MMDEBIAS=${MMDEBIAS:-build/bin/mmdebias}
OUT=${1:-runs/bench-composed}
SEEDS=${SEEDS:-"0 1 2 3 4"}
JOBS=${JOBS:-1}
read -ra extra <<<"${OVERRIDES:-}"
read -ra seed_list <<<"$SEEDS"
seeds=$(IFS=,; echo "${seed_list[*]}")  # the sweep's syntax: 0,1,2
# A fresh table by default (a rebuilt plugin must not reuse old runs); RESUME=1 continues a stopped one.
[[ ${RESUME:-0} == 1 ]] || rm -rf "$OUT"
mkdir -p "$OUT"

"$MMDEBIAS" sweep examples/composed.yaml --arms bench/composed/arms.yaml --seeds "$seeds" --jobs "$JOBS" \
  --baseline arm=baseline --out "$OUT/sweep" "${extra[@]}" >&2

/usr/bin/python3 -I - "$OUT/sweep" <<'PY' | tee "$OUT/table.md"
import json, os, statistics as st, sys
sweep = json.load(open(sys.argv[1] + "/sweep.json"))
labels = {"baseline": "baseline (no method)", "arl": "ARL", "a2d_npmix": "A2D + NP-Mix", "infomin_ted": "InfoMin TE-D",
          "causalmm": "CausalMM", "composed": "composed (all five)"}
def ms(values):
    return f"{100 * st.mean(values):.1f} ± {100 * (st.stdev(values) if len(values) > 1 else 0):.1f}"
def values(cfg, key, fallback=None):
    """Per-seed values of a metric, in seed order; a run without it (no factual block) takes the fallback's."""
    m = cfg["metrics"].get(key) or cfg["metrics"].get(fallback)
    return m["values"] if m else []
def paired(cfg):
    d = cfg.get("vs_baseline", {}).get("eval.classification.accuracy")
    if d is None: return "(baseline)"
    if d["ci95"] is None: return f"{100 * d['mean']:+.1f}"
    return f"{100 * d['mean']:+.1f} [{100 * d['ci95'][0]:+.1f}, {100 * d['ci95'][1]:+.1f}]{'*' if d['excludes_zero'] else ''}"
acc = "eval.classification.accuracy"
print(f"Seeds {', '.join(map(str, sweep['seeds']))}, mean ± std, in %; Δ accuracy: the paired difference vs the baseline "
      f"(points), mean of the per-seed differences [95% t-interval], * when it excludes 0. \"Factual\" is the prediction "
      f"before hook 8 (CausalMM's contrast), the accuracy itself where no intervention changes the prediction.")
print(f"Command: `{sweep['command']}`; machine: {os.uname().nodename}, {os.cpu_count()} cores.\n")
print("| manifest | accuracy | Δ accuracy vs baseline | worst-group | factual | image alone | text alone | AUROC msp | AUROC energy |")
print("|---|---|---|---|---|---|---|---|---|")
for cfg in sweep["configs"]:
    arm = cfg["overrides"]["arm"]
    cols = [values(cfg, acc), None, values(cfg, "eval.classification.worst_group_accuracy"),
            values(cfg, "eval.factual.classification.accuracy", acc), values(cfg, "eval.per_modality_accuracy.image"),
            values(cfg, "eval.per_modality_accuracy.text"), values(cfg, "eval.ood.msp.auroc"), values(cfg, "eval.ood.energy.auroc")]
    print(f"| {labels.get(arm, arm)} | " + " | ".join(paired(cfg) if c is None else ms(c) if c else "—" for c in cols) + " |")
PY
