#!/usr/bin/env bash
# CausalMM benchmark: fashion-captions with a strong text prior (brand token = class 95% in train/val, 10% at
# test; groups = class x brand-agrees), std.tokens text encoder, std.cross_attention fusion, MLP image encoder.
# Factual vs CausalMM prediction for every edit x gamma in {0.5, 1} x epsilon in {0.1, 0.6}, over seeds, and the
# gamma = 0 arm, which must equal the factual prediction (checked: it isolates the contrast from the rest of the run):
# accuracy and worst-group accuracy on the shifted test split, accuracy on the in-distribution val split, the
# per-site causal effect of attention, and the evaluation's wall-time ratio (CausalMM / factual).
#
# One training per seed: `mmdebias eval` may not change an intervention's options (core/src/run/resume_check.cpp),
# so the run's intervention scores every setting on the same batches with its what-if sweep (exact accuracies
# from mean counts; tests/methods/causalmm/run_eval.sh pins the sweep against the evaluation itself). The
# factual numbers are the evaluation's own "factual" block (the logits before hook 8).
#
# The seeds are one `mmdebias sweep` (OUT_DIR/sweep/sweep.json; the report reads each run through it) and the
# report gives CausalMM's paired difference from the factual prediction per seed with its 95% interval.
# usage: bench/causalmm.sh [OUT_DIR]      env: MMDEBIAS (host binary), SEEDS ("0 1 2 3 4"), TIMING_REPS (3), JOBS (1),
#                                         OVERRIDES ("train.epochs=1": extra overrides of the trained runs)
set -euo pipefail
cd "$(dirname "$0")/.."
MMDEBIAS=${MMDEBIAS:-build/bin/mmdebias}
OUT=${1:-runs/bench-causalmm}
SEEDS=${SEEDS:-"0 1 2 3 4"}
REPS=${TIMING_REPS:-3}
JOBS=${JOBS:-1}
read -ra extra <<<"${OVERRIDES:-}"
read -ra seed_list <<<"$SEEDS"
seeds=$(IFS=,; echo "${seed_list[*]}")  # the sweep's syntax: 0,1,2
MANIFEST=bench/causalmm/fashion.yaml
mkdir -p "$OUT"
start=$(date +%s)

# One training run per seed: a sweep with no axes (restartable: finished seeds are reused, as before), then the
# val-split evaluation of each run it names.
"$MMDEBIAS" sweep "$MANIFEST" --seeds "$seeds" --jobs "$JOBS" --out "$OUT/sweep" "${extra[@]}"
mapfile -t dirs < <(/usr/bin/python3 -I -c 'import json, sys; s = json.load(open(sys.argv[1] + "/sweep.json"))
print("\n".join(sys.argv[1] + "/" + r["dir"] for c in s["configs"] for r in c["runs"] if r["status"] == "finished"))' "$OUT/sweep")
for dir in "${dirs[@]}"; do
  [[ -f "$dir/eval-val.json" ]] || "$MMDEBIAS" eval "$dir" eval.split=val >/dev/null 2>>"$dir.log"
done
echo "training and val evaluation done ($(( $(date +%s) - start )) s)"

# Inference cost, a loop and not a sweep (the same two trained runs evaluated again and again, A B A B):
# `mmdebias eval` of two small runs of the same weights (train 512 samples, 1 epoch; the weights do not matter
# for time), without the intervention and with the default one (uniform, 2 levels: 1 + 2 forward passes per
# batch); whole commands, so process start and data loading count in both.
small=(data.train_size=512 train.epochs=1 'interventions.0.sweep_edits=[]')
[[ -f "$OUT/time-factual/summary.json" ]] || "$MMDEBIAS" run "$MANIFEST" --out "$OUT/time-factual" "${small[@]}" 'interventions=[]' >/dev/null 2>&1
[[ -f "$OUT/time-causalmm/summary.json" ]] || "$MMDEBIAS" run "$MANIFEST" --out "$OUT/time-causalmm" "${small[@]}" >/dev/null 2>&1
timing="$OUT/timing.txt"; : >"$timing"
for _ in $(seq "$REPS"); do
  for v in factual causalmm; do
    t0=$(date +%s.%N); "$MMDEBIAS" eval "$OUT/time-$v" >/dev/null 2>&1; t1=$(date +%s.%N)
    echo "$v $(python3 -c "print($t1 - $t0)")" >>"$timing"
  done
done

/usr/bin/python3 -I - "$OUT" <<'PY'
import json, os, statistics as st, sys
from scipy import stats
out = sys.argv[1]
P = "interventions.causalmm/"
seed_sweep = json.load(open(f"{out}/sweep/sweep.json"))
finished = [r for c in seed_sweep["configs"] for r in c["runs"] if r["status"] == "finished"]
seeds = [str(r["seed"]) for r in finished]
def load(run):
    d = f"{out}/sweep/{run['dir']}"
    return json.load(open(f"{d}/summary.json"))["eval"], json.load(open(f"{d}/eval-val.json"))
runs = [load(r) for r in finished]
def sweep(ev, variant):
    c = ev["components"]
    acc = c[f"{P}sweep/{variant}/correct"] / c[f"{P}sweep/count"]
    groups = [k.rsplit("/", 1)[1] for k in c if k.startswith(f"{P}sweep/count/group")]
    worst = min(c[f"{P}sweep/{variant}/correct/{g}"] / c[f"{P}sweep/count/{g}"] for g in groups)
    return acc, worst
def ms(xs): return f"{st.mean(xs):.3f} ± {st.stdev(xs) if len(xs) > 1 else 0:.3f}"
def interval(xs, base):
    """Mean of the per-seed differences xs - base and its two-sided 95% Student-t interval (the mean twice for one seed)."""
    d = [x - b for x, b in zip(xs, base)]
    if len(d) < 2 or st.stdev(d) == 0: return st.mean(d), st.mean(d), st.mean(d)
    lo, hi = stats.t.interval(0.95, len(d) - 1, loc=st.mean(d), scale=st.stdev(d) / len(d) ** 0.5)
    return st.mean(d), lo, hi
def paired(xs, base):
    """The paired difference as text, * when its interval excludes 0."""
    m, lo, hi = interval(xs, base)
    return f"{m:+.3f} [{lo:+.3f}, {hi:+.3f}]{'*' if lo > 0 or hi < 0 else ''}"
def verdict(xs, base):
    """'helps' only where the paired interval excludes 0 on the positive side (and there are >= 2 seeds)."""
    m, lo, hi = interval(xs, base)
    return "helps" if len(xs) > 1 and lo > 0 else "not shown"
rows = [("factual", [(t["factual"]["classification"]["accuracy"], t["factual"]["classification"]["worst_group_accuracy"],
                      v["factual"]["classification"]["accuracy"]) for t, v in runs])]
EDITS = ["random", "uniform", "reversed", "shuffle", "shuffle_keys"]
# The gamma = 0 arm: the contrast off, the rest of the intervention on. Every edit and epsilon must give exactly the
# factual prediction (the cut-off keeps the arg-max and s = l), per seed, on both splits.
for edit in EDITS:
    for e in ["0.1", "0.6"]:
        for (t, v), f in zip(runs, rows[0][1]):
            got = sweep(t, f"{edit}/g0/e{e}")[:2] + (sweep(v, f"{edit}/g0/e{e}")[0],)
            assert all(abs(a - b) < 1e-12 for a, b in zip(got, f)), (edit, e, got, f)
rows.append(("γ=0 (every edit, ε 0.1 and 0.6)", [sweep(t, "uniform/g0/e0.1")[:2] + (sweep(v, "uniform/g0/e0.1")[0],) for t, v in runs]))
for edit in EDITS:
    for g in ["0.5", "1"]:
        for e in ["0.1", "0.6"]:
            name = f"{edit}/g{g}/e{e}"
            rows.append((f"{edit} γ={g} ε={e}", [sweep(t, name)[:2] + (sweep(v, name)[0],) for t, v in runs]))
for t, _ in runs:  # the sweep's entry for the configured setting is the evaluation itself
    assert abs(sweep(t, "uniform/g1/e0.1")[0] - t["classification"]["accuracy"]) < 1e-12
print(f"seeds {' '.join(seeds)}; mean ± std; Δ: the paired difference from the factual prediction (the same run), "
      f"mean of the per-seed differences [95% t-interval], * when it excludes 0\n")
print(f"Command: `{seed_sweep['command']}`; machine: {os.uname().nodename}, {os.cpu_count()} cores\n")
print("| prediction | test accuracy (ρ 0.1) | Δ test accuracy vs factual | test worst-group | Δ worst-group vs factual | val accuracy (ρ 0.95) | Δ val accuracy vs factual | helps? (test acc / worst / val) |")
print("|---|---|---|---|---|---|---|---|")
base = rows[0][1]
for name, r in rows:
    col = lambda rr, i: [x[i] for x in rr]
    dt, dw, dv = ("(baseline)",) * 3 if name == "factual" else (paired(col(r, i), col(base, i)) for i in range(3))
    helps = "" if name == "factual" else " / ".join(verdict(col(r, i), col(base, i)) for i in range(3))
    print(f"| {name} | {ms(col(r, 0))} | {dt} | {ms(col(r, 1))} | {dw} | {ms(col(r, 2))} | {dv} | {helps} |")
print("\nAverage causal effect of attention, mean|l − l_cf| (default uniform edit), test / val:")
for site in ["encoders.text.layer0", "fusion.layer0"]:
    print(f"- {site}: {ms([t['components'][P + 'ace/' + site] for t, _ in runs])} / "
          f"{ms([v['components'][P + 'ace/' + site] for _, v in runs])}")
print(f"- predictions changed by the default contrast (test): {ms([t['components'][P + 'changed'] for t, _ in runs])}")
times = {}
for line in open(f"{out}/timing.txt"):
    v, t = line.split(); times.setdefault(v, []).append(float(t))
f, c = st.median(times["factual"]), st.median(times["causalmm"])
print(f"\n`mmdebias eval` wall time, median of {len(times['factual'])} alternating: factual {f:.2f} s, "
      f"CausalMM (uniform, 2 levels: 3 forward passes per batch) {c:.2f} s, ratio {c / f:.2f}")
PY
echo "total $(( $(date +%s) - start )) s"
