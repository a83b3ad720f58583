#!/usr/bin/env bash
# CausalInfoMin benchmark: fashion-captions with the spurious brand token (rho_train 0.95, rho_test 0.10):
# baseline vs TE-D (infomin.confounder + infomin.debias) vs ATE-D (infomin.backdoor) vs TE-D + CausalMM, as one
# `mmdebias sweep` of bench/infomin/base.yaml with the arms of bench/infomin/arms.yaml (baseline arm=baseline),
# over SEEDS. Reports, mean ± std over seeds: shifted-test accuracy and its paired difference vs the baseline
# (95% interval), worst-group accuracy on the shifted test (groups = class × brand-agrees), in-distribution
# accuracy (the val split, rho 0.95), training time.
#   bench/infomin.sh [BUILD_DIR]        (default build/; SEEDS="0 1 2 3 4"; JOBS=1; OUT=dir keeps the runs (a sweep:
#                                        the same OUT again continues it); OVERRIDES="train.epochs=1" for a quick check)
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
MMDEBIAS=$BUILD/bin/mmdebias
SEEDS=${SEEDS:-"0 1 2 3 4"}
JOBS=${JOBS:-1}
OUT=${OUT:-$(mktemp -d)}
read -ra extra <<<"${OVERRIDES:-}"
read -ra seed_list <<<"$SEEDS"
seeds=$(IFS=,; echo "${seed_list[*]}")  # the sweep's syntax: 0,1,2
mkdir -p "$OUT"
echo "runs in $OUT"

arms=$SRC/bench/infomin/arms.yaml
if ! ls "$BUILD"/lib/mmdebias/plugins/mmdebias-causalmm* >/dev/null 2>&1; then
  echo "the causalmm plugin is not built in $BUILD: the TE-D + CausalMM arm is skipped"
  grep -v '^ted_causalmm:' "$arms" >"$OUT/arms.yaml"
  arms=$OUT/arms.yaml
fi
# Seed by seed, every arm of a seed together: machine load hits the arms alike.
"$MMDEBIAS" sweep "$SRC/bench/infomin/base.yaml" --arms "$arms" --seeds "$seeds" --jobs "$JOBS" --baseline arm=baseline \
  --out "$OUT/sweep" "${extra[@]}"
# The in-distribution accuracy: each finished run evaluated again on the val split.
mapfile -t dirs < <(/usr/bin/python3 -I -c 'import json, sys; s = json.load(open(sys.argv[1] + "/sweep.json"))
print("\n".join(sys.argv[1] + "/" + r["dir"] for c in s["configs"] for r in c["runs"] if r["status"] == "finished"))' "$OUT/sweep")
for dir in "${dirs[@]}"; do
  [[ -s "$dir.val.json" ]] || "$MMDEBIAS" eval "$dir" eval.split=val --json >"$dir.val.json" 2>>"$dir.log"
done

/usr/bin/python3 -I - "$OUT/sweep" "$SRC/bench" <<'PY' | tee "$OUT/table.md"
import json, os, statistics as st, sys
out = sys.argv[1]
sys.path.insert(0, sys.argv[2])
from sweep_summary import paired_between
sweep = json.load(open(f"{out}/sweep.json"))
names = {"baseline": "baseline (ERM)", "ted": "TE-D: head(x̃) (default)", "ted_subtract": "TE-D: logit − b_logit",
         "ted_no_contrastive": "TE-D without the contrastive term", "ated": "ATE-D: mean_k f(x, c_k), fit after 1 epoch (default)",
         "ated_fit0": "ATE-D, fit on the untrained model (fit_epoch 0)", "ted_causalmm": "TE-D + CausalMM"}
# The arm each arm changes one thing of: the paired difference to it isolates that thing.
parent = {"ted_subtract": "ted", "ted_no_contrastive": "ted", "ated_fit0": "ated", "ted_causalmm": "ted"}
factual = {"ted_subtract": "TE-D, the same runs without the subtraction", "ated": "ATE-D, nearest centroid only (no average)",
           "ted_causalmm": "TE-D + CausalMM, the same runs without the contrast"}
def ms(xs):
    return f"{100 * st.mean(xs):.1f} ± {100 * (st.stdev(xs) if len(xs) > 1 else 0):.1f}"
cfgs = {c["overrides"]["arm"]: c for c in sweep["configs"]}
def diff(arm, ref):
    if ref not in cfgs or arm == ref: return ""
    return paired_between(cfgs[arm], cfgs[ref], scale=100, digits=1)
def row(label, arm, pick, cols):
    test, worst, iid, secs, shift = [], [], [], [], []
    for r in cfgs[arm]["runs"]:
        if r["status"] != "finished": continue
        d = f"{out}/{r['dir']}"
        s = json.load(open(d + "/summary.json"))
        c = pick(s["eval"])
        test.append(c["accuracy"]); worst.append(c["worst_group_accuracy"])
        iid.append(pick(json.load(open(d + ".val.json")))["accuracy"])
        secs.append(s["train"]["seconds"])
        shift += [v for k, v in s["eval"].get("components", {}).items() if k.endswith("/gate_shift")]
    gate = f"{st.mean(shift):.3f}" if shift else ""
    print(f"| {label} | {ms(test)} | {' | '.join(cols)} | {ms(worst)} | {ms(iid)} | {gate} | {st.mean(secs):.1f} |")
print(f"Seeds {', '.join(map(str, sweep['seeds']))}; mean ± std in %; Δ: the paired difference (points), mean of the "
      f"per-seed differences [95% t-interval], * when it excludes 0; \"vs parent\": against the arm this one changes one "
      f"thing of. Command: `{sweep['command']}`; machine: {os.uname().nodename}, {os.cpu_count()} cores.\n")
print("| arm | shifted-test acc (%) | Δ vs baseline | Δ vs parent | worst-group acc (%) | in-distribution acc (%) | ATE-D gate shift | train s / run |")
print("|---|---|---|---|---|---|---|---|")
for arm in cfgs:
    row(names[arm], arm, lambda e: e["classification"], [diff(arm, "baseline") or "(baseline)",
                                                        f"{diff(arm, parent[arm])} vs {parent[arm]}" if arm in parent else ""])
for arm in cfgs:
    if arm in factual:
        row(factual[arm], arm, lambda e: e["factual"]["classification"], ["", ""])
PY
