#!/usr/bin/env bash
# MCR benchmark (docs/methods/mcr.md): joint training vs MCR (greedy, independent, collaborative) vs ARL on
# std.gaussian (sigma = 1, 3) and data.av_digits (noisy audio, occluded images); the same seeds and the same
# optimiser for every arm; accuracy and per-modality accuracy (mean ± std over seeds); and MCR's step-time
# overhead (S = 32, greedy) over joint training, measured alternately (A B A B ...) in this same invocation.
# Prints a markdown report and writes it to $WORK/report.md.
#   bench/mcr.sh              # MMDEBIAS=build-mcr/bin/mmdebias SEEDS="0 1 2" WORK=/tmp/mmdebias-bench-mcr
set -euo pipefail
cd "$(dirname "$0")/.."
MMDEBIAS=${MMDEBIAS:-build-mcr/bin/mmdebias}
WORK=${WORK:-/tmp/mmdebias-bench-mcr}
SEEDS=${SEEDS:-"0 1 2"}
TIMING_REPEATS=${TIMING_REPEATS:-3}
TIMING_STEPS=${TIMING_STEPS:-150}
rm -rf "$WORK" && mkdir -p "$WORK/runs"

# Arms from one manifest per dataset: joint = without `interventions`; mcr-<game> = with it (λ = 0.1, the
# release's CREMA-D value), game overridden; mcr-<game>-l1 the same with λ = 1; mcr-nogame = MCR's other terms
# (contrastive, unimodal CE) with λ = 0, to separate the game's effect from theirs; arl = joint plus ARL's
# estimator and intervention (its defaults, gamma 4, with the warm-up `start` 5 -> 2 epochs for these short runs).
arms="joint mcr-nogame mcr-greedy mcr-independent mcr-collaborative mcr-greedy-l1 mcr-independent-l1 mcr-collaborative-l1"
if "$MMDEBIAS" describe arl.reweight >/dev/null 2>&1; then arms="$arms arl"; else echo "ARL plugin not found: no ARL arm" >&2; fi
drop_block() { awk -v key="$1" '$0 ~ "^"key":" {skip=1; next} skip && /^[a-z]/ {skip=0} !skip' "$2"; }
for data in gaussian av_digits; do
  cp "bench/mcr/$data.yaml" "$WORK/$data.mcr.yaml"
  drop_block interventions "bench/mcr/$data.yaml" >"$WORK/$data.joint.yaml"
  { cat "$WORK/$data.joint.yaml"
    echo "estimators: [{type: arl.uncertainty, name: arl}]"
    echo "interventions: [{type: arl.reweight, name: arl, gamma: 4.0, start: 2}]"; } >"$WORK/$data.arl.yaml"
done

run() {  # run NAME MANIFEST ARGS...: one training run into $WORK/runs/NAME, quiet unless it fails
  local name=$1 manifest=$2; shift 2
  "$MMDEBIAS" run "$manifest" --out "$WORK/runs/$name" "$@" >"$WORK/runs.log" 2>&1 || { tail -20 "$WORK/runs.log"; exit 1; }
}

start=$(date +%s)
for data in gaussian av_digits; do
  for seed in $SEEDS; do
    for arm in $arms; do
      echo "[$(($(date +%s) - start))s] $data $arm seed $seed" >&2
      case $arm in
        joint | arl) run "$data-$arm-$seed" "$WORK/$data.$arm.yaml" run.seed="$seed" ;;
        mcr-nogame) run "$data-$arm-$seed" "$WORK/$data.mcr.yaml" run.seed="$seed" interventions.0.l=0 ;;
        mcr-*-l1) game=${arm#mcr-}; run "$data-$arm-$seed" "$WORK/$data.mcr.yaml" run.seed="$seed" interventions.0.game="${game%-l1}" interventions.0.l=1 ;;
        mcr-*) run "$data-$arm-$seed" "$WORK/$data.mcr.yaml" run.seed="$seed" interventions.0.game="${arm#mcr-}" ;;
      esac
    done
  done
  # Step time: joint vs MCR (greedy, S = 32), alternating, the same fixed number of steps.
  for rep in $(seq 1 "$TIMING_REPEATS"); do
    for arm in joint mcr; do
      echo "[$(($(date +%s) - start))s] $data timing $arm $rep" >&2
      run "$data-time-$arm-$rep" "$WORK/$data.$arm.yaml" train.steps="$TIMING_STEPS" train.epochs=0
    done
  done
done
echo "[$(($(date +%s) - start))s] done" >&2

/usr/bin/python3 -I bench/mcr/report.py "$WORK" "$SEEDS" "$TIMING_REPEATS" "$arms" | tee "$WORK/report.md"
