#!/usr/bin/env bash
# ARL benchmark (docs/methods/arl.md): joint training vs ARL on std.gaussian (sigma = 1, 2) and data.av_digits
# (noisy audio), the same seeds for both arms; accuracy, per-modality accuracy, the learned dependence ratio
# against the inverse-variance ratio, and ARL's step-time overhead over joint training measured alternately
# (A B A B ...) in this same invocation. Prints a markdown report and writes it to $WORK/report.md.
#   bench/arl.sh                      # MMDEBIAS=build-arl/bin/mmdebias SEEDS="0 1 2" WORK=/tmp/mmdebias-bench-arl
set -euo pipefail
cd "$(dirname "$0")/.."
MMDEBIAS=${MMDEBIAS:-build-arl/bin/mmdebias}
WORK=${WORK:-/tmp/mmdebias-bench-arl}
SEEDS=${SEEDS:-"0 1 2 3 4"}
TIMING_REPEATS=${TIMING_REPEATS:-5}
rm -rf "$WORK" && mkdir -p "$WORK"

# The joint arm is the ARL manifest without its interventions block (the estimator only observes: it adds no
# loss term and no gradient, so it leaves joint training unchanged and gives both arms the same diagnostics).
# The plain manifest, for timing, has neither estimators nor interventions.
drop_block() { awk -v key="$1" '$0 ~ "^"key":" {skip=1; next} skip && /^[a-z]/ {skip=0} !skip' "$2"; }
for data in gaussian av_digits; do
  cp "bench/arl/$data.yaml" "$WORK/$data.arl.yaml"
  drop_block interventions "bench/arl/$data.yaml" >"$WORK/$data.joint.yaml"
  drop_block estimators "$WORK/$data.joint.yaml" >"$WORK/$data.plain.yaml"
done

run() {  # run NAME MANIFEST ARGS...: one training run into $WORK/runs/NAME, quiet unless it fails
  local name=$1 manifest=$2; shift 2
  "$MMDEBIAS" run "$manifest" --out "$WORK/runs/$name" "$@" >"$WORK/runs.log" 2>&1 || { tail -20 "$WORK/runs.log"; exit 1; }
}

start=$(date +%s)
mkdir -p "$WORK/runs"
for data in gaussian av_digits; do
  for seed in $SEEDS; do
    for arm in joint arl variance released; do
      echo "[$(($(date +%s) - start))s] $data $arm seed $seed" >&2
      # variance: ARL with the variance estimator instead of the released entropy.
      # released: ARL with w fixed at 1/2 (clamp 1 makes every Û 1), i.e. what the released script effectively
      # trains: both encoders' gradients x1.5 plus the bias term. It separates the asymmetry from the rest.
      case $arm in
        variance) run "$data-$arm-$seed" "$WORK/$data.arl.yaml" run.seed="$seed" estimators.0.estimator=variance ;;
        released) run "$data-$arm-$seed" "$WORK/$data.arl.yaml" run.seed="$seed" estimators.0.clamp=1.0 ;;
        *) run "$data-$arm-$seed" "$WORK/$data.$arm.yaml" run.seed="$seed" ;;
      esac
    done
  done
  # Step time: plain joint training vs ARL, alternating, fixed steps after the warm-up (start 0).
  steps=$([[ $data == gaussian ]] && echo 2000 || echo 300)
  for rep in $(seq 1 "$TIMING_REPEATS"); do
    for arm in plain arl; do
      echo "[$(($(date +%s) - start))s] $data timing $arm $rep" >&2
      run "$data-time-$arm-$rep" "$WORK/$data.$arm.yaml" train.steps="$steps" train.epochs=0 \
        $([[ $arm == arl ]] && echo interventions.0.start=0)
    done
  done
done
echo "[$(($(date +%s) - start))s] done" >&2

/usr/bin/python3 -I bench/arl/report.py "$WORK" "$SEEDS" "$TIMING_REPEATS" | tee "$WORK/report.md"
