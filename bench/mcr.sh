#!/usr/bin/env bash
# MCR benchmark (docs/methods/mcr.md): joint training vs MCR (greedy, independent, collaborative) vs ARL on
# std.gaussian (sigma = 1, 3) and data.av_digits (noisy audio, occluded images); the same seeds and the same
# optimiser for every arm; accuracy with its paired difference vs joint training (95% interval) and
# per-modality accuracy (mean ± std over seeds); and MCR's step-time overhead (S = 32, greedy) over joint
# training, measured alternately (A B A B ...) in this same invocation.
# One `mmdebias sweep` per dataset (arms: bench/mcr/arms.yaml, baseline joint) and one per dataset for the step
# time (bench/mcr/timing-arms.yaml, seeds as repeats, one run at a time). Prints a markdown report and writes
# it to $WORK/report.md.
#   bench/mcr.sh      # MMDEBIAS=build/bin/mmdebias SEEDS="0 1 2 3 4" WORK=/tmp/mmdebias-bench-mcr JOBS=1
#                     # TIMING_REPEATS=3 TIMING_STEPS=150 RESUME=0 OVERRIDES="train.epochs=1" (quick check)
set -euo pipefail
cd "$(dirname "$0")/.."
MMDEBIAS=${MMDEBIAS:-build/bin/mmdebias}
WORK=${WORK:-/tmp/mmdebias-bench-mcr}
SEEDS=${SEEDS:-"0 1 2 3 4"}
JOBS=${JOBS:-1}
TIMING_REPEATS=${TIMING_REPEATS:-3}
TIMING_STEPS=${TIMING_STEPS:-150}
read -ra extra <<<"${OVERRIDES:-}"
read -ra seed_list <<<"$SEEDS"
seeds=$(IFS=,; echo "${seed_list[*]}")  # the sweep's syntax: 0,1,2
# A fresh bench by default (a rebuilt plugin must not reuse old runs); RESUME=1 continues a stopped one.
[[ ${RESUME:-0} == 1 ]] || rm -rf "$WORK"
mkdir -p "$WORK"

arms=bench/mcr/arms.yaml
if ! "$MMDEBIAS" describe arl.reweight >/dev/null 2>&1; then
  echo "ARL plugin not found: no ARL arm" >&2
  grep -v '^arl:' bench/mcr/arms.yaml >"$WORK/arms.yaml"
  arms=$WORK/arms.yaml
fi

timing_extra=()  # OVERRIDES less the length of training, which the timing runs set
for o in "${extra[@]}"; do [[ $o == train.epochs=* || $o == train.steps=* ]] || timing_extra+=("$o"); done
start=$(date +%s)
for data in gaussian av_digits; do
  echo "[$(($(date +%s) - start))s] $data: arms x seeds $seeds" >&2
  # run.threads=1 as in the manifests whatever JOBS (the sweep would split the cores): results depend on it.
  "$MMDEBIAS" sweep "bench/mcr/$data.yaml" --arms "$arms" --seeds "$seeds" --jobs "$JOBS" --baseline arm=joint \
    --out "$WORK/$data" run.threads=1 "${extra[@]}" >&2
  # Step time: joint vs MCR (greedy, S = 32), the same fixed number of steps; always measured anew.
  echo "[$(($(date +%s) - start))s] $data: timing, $TIMING_REPEATS alternating repeats of $TIMING_STEPS steps" >&2
  rm -rf "$WORK/$data-timing"
  "$MMDEBIAS" sweep "bench/mcr/$data.yaml" --arms bench/mcr/timing-arms.yaml --seeds "$(seq -s, 0 $((TIMING_REPEATS - 1)))" \
    --jobs 1 --out "$WORK/$data-timing" train.steps="$TIMING_STEPS" train.epochs=0 "${timing_extra[@]}" >&2
done
echo "[$(($(date +%s) - start))s] done" >&2

/usr/bin/python3 -I bench/mcr/report.py "$WORK" | tee "$WORK/report.md"
