# run.sinks: [{type: tensorboard.events}]: every scalar of metrics.jsonl read back by the tensorboard package's own reader
# (tests/cli/tensorboard_check.py), for a run and for a run killed with SIGKILL and resumed (TensorBoard's purge of the
# replayed steps leaves no step twice); the sink changes no trained weight; a failing sink is warned of once and the
# run goes on; an unknown sink type is refused naming file, line and key; validate, plugins and describe show sinks.
source "$(dirname "$0")/lib.bash"
work=$(mktemp -d)
trap 'rm -rf "$work" "$out" "$err"' EXIT
manifest="$SRC/tests/runs/tiny.yaml"
sink='run.sinks=[{type: tensorboard.events}]'
check="$(dirname "$0")/tensorboard_check.py"
if ! "${TENSORBOARD_PYTHON:-/nonexistent}" -c 'import tensorboard' 2>/dev/null; then
  echo "FAIL: no Python with the tensorboard package at TENSORBOARD_PYTHON='${TENSORBOARD_PYTHON:-}': run scripts/setup --tests (it makes .venv-tensorboard)"
  exit 1
fi
sha() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["params_sha256"])' "$1/summary.json"; }

# A whole run, then one without the sink: the same weights.
run run "$manifest" --out "$work/a" "$sink"
expect_code 0
"$TENSORBOARD_PYTHON" "$check" "$work/a" || fail "the event files of $work/a do not match its metrics.jsonl"
run run "$manifest" --out "$work/plain"
expect_code 0
[[ "$(sha "$work/a")" == "$(sha "$work/plain")" ]] || fail "the tensorboard sink changed the trained weights"
[[ ! -e "$work/plain/tensorboard" ]] || fail "a run without sinks wrote tensorboard/"

# Killed with SIGKILL between two checkpoints (after logging steps a resume replays), then resumed. Retried when the
# kill happened to land on a checkpoint (nothing replayed: the purge would go untested).
resumed=0
for attempt in 1 2 3; do
  rm -rf "$work/k"
  "$MMDEBIAS" run "$manifest" --out "$work/k" "$sink" train.epochs=32 train.checkpoint_every=40 >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 1 3000); do
    step=$(tail -n 1 "$work/k/metrics.jsonl" 2>/dev/null | grep -o '"step":[0-9]*' | cut -d: -f2)
    [[ -n "$step" && "$step" -ge 45 && $((step % 40)) -ge 5 && -f "$work/k/checkpoints/latest" ]] && break
    sleep 0.002
  done
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  [[ ! -f "$work/k/summary.json" ]] || { fail "the run finished before it was killed"; break; }
  run run --resume "$work/k"
  expect_code 0
  if "$TENSORBOARD_PYTHON" "$check" "$work/k" --expect-purge >"$work/check.out" 2>&1; then
    resumed=1
    cat "$work/check.out"
    break
  fi
  grep -q "replayed nothing" "$work/check.out" || { cat "$work/check.out"; fail "the resumed run's event files do not match its metrics.jsonl"; break; }
  echo "attempt $attempt: the kill landed on a checkpoint; again"
done
[[ $resumed -eq 1 ]] || fail "no resumed run with replayed steps was checked"

# A sink that fails (its directory cannot be made: manifest.yaml is a file) costs one warning, not the run.
run run "$manifest" --out "$work/broken" 'run.sinks=[{type: tensorboard.events, dir: manifest.yaml/tb}]' train.epochs=1
expect_code 0
[[ -f "$work/broken/summary.json" ]] || fail "the run with a failing sink did not finish"
[[ $(grep -c "sink sinks.events (tensorboard.events, plugin 'tensorboard') failed in open" "$work/broken/log.txt") -eq 1 ]] ||
  fail "the failing sink was not warned of exactly once in log.txt"

# An unknown sink type and a dir outside the run directory: exit 2, naming file, line and key.
sed 's/^run:$/run:\n  sinks: [{type: tensorboard.nope}]/' "$manifest" >"$work/bad.yaml"
grep -q "tensorboard.nope" "$work/bad.yaml" || fail "the bad manifest was not written"
run validate "$work/bad.yaml"
expect_code 2
expect_err "bad.yaml:"
expect_err "run.sinks.0"
expect_err "unknown sink type 'tensorboard.nope'"
run validate "$manifest" 'run.sinks=[{type: tensorboard.events, dir: ../elsewhere}]'
expect_code 2
expect_err "must be a relative path inside the run directory"

# The listings.
run validate "$manifest" "$sink"
expect_code 0
expect_out "type: tensorboard.events"
run plugins
expect_code 0
expect_out "tensorboard.events"
run describe tensorboard.events
expect_code 0
expect_out "(sink)"
finish
