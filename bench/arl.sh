#!/usr/bin/env bash
# ARL benchmark (docs/methods/arl.md): joint training vs ARL on std.gaussian (sigma = 1, 2) and data.av_digits
# (noisy audio), the same seeds for every arm; accuracy and its paired difference vs joint training (95%
# interval), per-modality accuracy, the learned dependence ratio against the inverse-variance ratio, and ARL's
# step-time overhead over joint training measured alternately (A B A B ...) in this same invocation.
# One `mmdebias sweep` per dataset (arms: bench/arl/arms.yaml, baseline joint) and one per dataset for the step
# time (bench/arl/timing-arms.yaml, seeds as repeats, always one run at a time). Prints a markdown report and
# writes it to $WORK/report.md.
#   bench/arl.sh      # MMDEBIAS=build/bin/mmdebias SEEDS="0 1 2 3 4" WORK=/tmp/mmdebias-bench-arl JOBS=1
#                     # TIMING_REPEATS=5 TIMING_STEPS (2000 gaussian, 300 av_digits) RESUME=0
#                     # OVERRIDES="train.epochs=1" (extra overrides of every run, for a quick check)
set -euo pipefail
cd "$(dirname "$0")/.."
MMDEBIAS=${MMDEBIAS:-build/bin/mmdebias}
WORK=${WORK:-/tmp/mmdebias-bench-arl}
SEEDS=${SEEDS:-"0 1 2 3 4"}
JOBS=${JOBS:-1}
TIMING_REPEATS=${TIMING_REPEATS:-5}
TIMING_STEPS=${TIMING_STEPS:-}
read -ra extra <<<"${OVERRIDES:-}"
read -ra seed_list <<<"$SEEDS"
seeds=$(IFS=,; echo "${seed_list[*]}")  # the sweep's syntax: 0,1,2
# A fresh bench by default (a rebuilt plugin must not reuse old runs); RESUME=1 continues a stopped one.
[[ ${RESUME:-0} == 1 ]] || rm -rf "$WORK"
mkdir -p "$WORK"

start=$(date +%s)
for data in gaussian av_digits; do
  echo "[$(($(date +%s) - start))s] $data: arms x seeds $seeds" >&2
  # run.threads=1 as in the manifests whatever JOBS (the sweep would split the cores): results depend on it.
  "$MMDEBIAS" sweep "bench/arl/$data.yaml" --arms bench/arl/arms.yaml --seeds "$seeds" --jobs "$JOBS" \
    --baseline arm=joint --out "$WORK/$data" run.threads=1 "${extra[@]}" >&2
  # Step time: plain joint training vs ARL, fixed steps, ARL active from step 0; always measured anew.
  steps=${TIMING_STEPS:-$([[ $data == gaussian ]] && echo 2000 || echo 300)}
  echo "[$(($(date +%s) - start))s] $data: timing, $TIMING_REPEATS alternating repeats of $steps steps" >&2
  rm -rf "$WORK/$data-timing"
  timing_extra=()  # OVERRIDES less the length of training, which the timing runs set
  for o in "${extra[@]}"; do [[ $o == train.epochs=* || $o == train.steps=* ]] || timing_extra+=("$o"); done
  "$MMDEBIAS" sweep "bench/arl/$data.yaml" --arms bench/arl/timing-arms.yaml --seeds "$(seq -s, 0 $((TIMING_REPEATS - 1)))" \
    --jobs 1 --out "$WORK/$data-timing" train.steps="$steps" train.epochs=0 "${timing_extra[@]}" >&2
done
echo "[$(($(date +%s) - start))s] done" >&2

/usr/bin/python3 -I bench/arl/report.py "$WORK" | tee "$WORK/report.md"
