# SIGTERM / SIGINT during training: the run saves a checkpoint of the step it reached, logs one line and
# exits with 128 + signal; resumed, it ends with the uninterrupted run's params_sha256. A signal during a
# checkpoint write waits for the write; a second SIGINT exits at once, the last checkpoint intact. With 2
# ranks, SIGTERM to one rank stops both at the same step.
source "$(dirname "$0")/lib.bash"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work" "$out" "$err"' EXIT
manifest="$SRC/tests/runs/tiny.yaml"
long=train.steps=600
sha() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["params_sha256"])' "$1/summary.json"; }
last_step() { grep '"type":"train"' "$1/metrics.jsonl" 2>/dev/null | tail -n 1 | grep -o '"step":[0-9]*' | cut -d: -f2; }
wait_step() {  # DIR STEP PID: until DIR logged STEP (or PID ended)
  local s
  while kill -0 "$3" 2>/dev/null; do s=$(last_step "$1"); [[ -n $s && $s -ge $2 ]] && return 0; sleep 0.01; done
  return 1
}
wait_file() { while kill -0 "$2" 2>/dev/null && ! compgen -G "$1" >/dev/null; do sleep 0.005; done; compgen -G "$1" >/dev/null; }
verified() { [[ "$(sha256sum <"$1" | cut -d' ' -f1)" == "$(tr -d '[:space:]' <"$1.sha256")" ]]; }
# start DIR [ENV...]: the run in the background (SIGINT at its default, as in a terminal); pid in $pid.
start() {
  local dir=$1; shift
  env "$@" env --default-signal=INT "$MMDEBIAS" run "$manifest" --out "$dir" $long >"$dir.out" 2>"$dir.err" &
  pid=$!
}
stopped_line() { grep -o "stopped by $1 at step [0-9]*; checkpoint ckpt-[0-9]*\.pt saved; continue with: mmdebias run --resume $2" "$2.err"; }

run run "$manifest" --out "$work/ref" $long
expect_code 0
reference=$(sha "$work/ref")

# SIGTERM at a step: checkpoint of that step, one line, exit 143, nothing logged past it; resume is exact.
start "$work/term"
wait_step "$work/term" 40 "$pid" || fail "the run ended before step 40"
kill -TERM "$pid"; wait "$pid"; code=$?
expect_code 143
line=$(stopped_line SIGTERM "$work/term") || { cat "$work/term.err"; fail "no 'stopped by SIGTERM' line"; }
step=$(sed 's/.* at step \([0-9]*\);.*/\1/' <<<"$line")
[[ "$(cat "$work/term/checkpoints/latest")" == "$(printf 'ckpt-%09d.pt' "$step")" ]] || fail "latest is not the checkpoint of step $step"
[[ ! -f "$work/term/summary.json" ]] || fail "a stopped run wrote summary.json"
[[ "$(last_step "$work/term")" -le "$step" ]] || fail "metrics.jsonl logs a step past the saved one"
run run --resume "$work/term"
expect_code 0
[[ "$(sha "$work/term")" == "$reference" ]] || fail "stopped by SIGTERM and resumed, params_sha256 differs"

# SIGINT during a checkpoint write (each stage paused 300 ms): the write completes, then the next step
# is saved and the run stops.
start "$work/int" MMDEBIAS_TEST_CHECKPOINT_PAUSE_MS=300
wait_file "$work/int/checkpoints/ckpt-*.pt.tmp-$pid" "$pid" || fail "no checkpoint write seen"
writing=$(basename "$(compgen -G "$work/int/checkpoints/ckpt-*.pt.tmp-$pid")" | sed 's/\.tmp-.*//')
kill -INT "$pid"; wait "$pid"; code=$?
expect_code 130
line=$(stopped_line SIGINT "$work/int") || { cat "$work/int.err"; fail "no 'stopped by SIGINT' line"; }
step=$(sed 's/.* at step \([0-9]*\);.*/\1/' <<<"$line")
verified "$work/int/checkpoints/$writing" || fail "the checkpoint being written when SIGINT came ($writing) was not completed"
verified "$work/int/checkpoints/$(printf 'ckpt-%09d.pt' "$step")" || fail "the stop checkpoint of step $step does not verify"
run run --resume "$work/int"
expect_code 0
[[ "$(sha "$work/int")" == "$reference" ]] || fail "stopped by SIGINT mid-write and resumed, params_sha256 differs"

# A second SIGINT while stopping exits at once (here: mid-write, 1 s pauses), the last checkpoint intact.
start "$work/twice" MMDEBIAS_TEST_CHECKPOINT_PAUSE_MS=1000
wait_file "$work/twice/checkpoints/latest" "$pid" && wait_file "$work/twice/checkpoints/ckpt-*.pt.tmp-$pid" "$pid" ||
  fail "no second checkpoint write seen"
committed=$(cat "$work/twice/checkpoints/latest")
kill -INT "$pid"; sleep 0.2
t0=$(date +%s%N); kill -INT "$pid"; wait "$pid"; code=$?; took_ms=$((($(date +%s%N) - t0) / 1000000))
expect_code 130
echo "a second SIGINT ended the run $took_ms ms after it was sent"
grep -q "second SIGINT: exiting now" "$work/twice.err" || fail "no 'second SIGINT' line"
# Without the second SIGINT the run would first write a stop checkpoint: 4 pauses, at least 4000 ms.
[[ $took_ms -lt 2500 ]] || fail "the second SIGINT took $took_ms ms to end the run"
[[ "$(cat "$work/twice/checkpoints/latest")" == "$committed" ]] && verified "$work/twice/checkpoints/$committed" ||
  fail "after a second SIGINT the last checkpoint ($committed) is not the intact latest"
run run --resume "$work/twice"
expect_code 0
[[ "$(sha "$work/twice")" == "$reference" ]] || fail "exited on a second SIGINT and resumed, params_sha256 differs"
compgen -G "$work/twice/checkpoints/*.tmp-*" >/dev/null && fail "the resumed run left the killed write's temporary file"

# Two ranks: SIGTERM to rank 1 alone stops both at the same step (exit 143 each); resumed, exact.
dist="$SRC/tests/runs/dist.yaml"
two_ranks "$work/dref" "$dist" train.steps=300
start_two_ranks "$work/d" run "$dist" --out "$work/d" train.steps=300
wait_step "$work/d" 30 "${pids[0]}" || fail "the 2-rank run ended before step 30"
kill -TERM "${pids[1]}"
codes=(); for p in "${pids[@]}"; do wait "$p"; codes+=($?); done
[[ "${codes[*]}" == "143 143" ]] || { cat "$work"/d.rank*.err; fail "SIGTERM to rank 1: exit codes ${codes[*]}, expected 143 143"; }
grep -q "stopped by SIGTERM at step" "$work/d.rank0.err" || fail "rank 0 did not log the stop"
two_ranks "$work/d" --resume "$work/d"
[[ "$(sha "$work/d")" == "$(sha "$work/dref")" ]] || fail "2 ranks stopped by SIGTERM to one and resumed, params_sha256 differs"
finish
