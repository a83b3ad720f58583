# A run with the ema variance estimator, killed with SIGKILL after a checkpoint past the warm-up and resumed,
# ends with the uninterrupted run's params_sha256: the ema state (buffers ema, ema_steps) is checkpointed and
# restored, and the per-step gradient factors need no state. (Were the ema restarted on resume, the weights
# and so the parameters would differ.)
source "$SRC/tests/cli/lib.bash"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work" "$out" "$err"' EXIT
manifest="$(dirname "$0")/dist.yaml"
opts=(estimators.0.estimator=variance estimators.0.mode=ema estimators.0.decay=0.9 train.epochs=40 train.checkpoint_every=20 train.log_every=20)
sha() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["params_sha256"])' "$1/summary.json"; }

run run "$manifest" --out "$work/whole" "${opts[@]}"
expect_code 0
target=$((RANDOM % 400 + 40))  # 640 steps; the warm-up (start 1) ends at step 16
"$MMDEBIAS" run "$manifest" --out "$work/k" "${opts[@]}" >/dev/null 2>&1 &
pid=$!
step=0
for _ in $(seq 1 4000); do
  step=$(tail -n 1 "$work/k/metrics.jsonl" 2>/dev/null | grep -o '"step":[0-9]*' | cut -d: -f2)
  [[ -n "$step" && "$step" -ge "$target" && -f "$work/k/checkpoints/latest" ]] && break
  sleep 0.005
done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
echo "killed at step ~$step (target $target), latest checkpoint $(cat "$work/k/checkpoints/latest" 2>/dev/null)"
[[ ! -f "$work/k/summary.json" ]] || fail "the run finished before it was killed: the kill tested nothing"
run run --resume "$work/k"
expect_code 0
[[ "$(sha "$work/whole")" == "$(sha "$work/k")" ]] || fail "killed and resumed run differs: $(sha "$work/k") vs $(sha "$work/whole")"
finish
