#!/usr/bin/env bash
# bench/run's inputs: the host's cumulative counters in train lines (seconds, cpu_seconds, samples) and the
# steady rate read from them; the LibTorch baseline program's JSON and its refusal of bad arguments.
source "$(dirname "$0")/lib.bash"
work=$(mktemp -d)
trap 'rm -rf "$work" "$out" "$err"' EXIT

run run "$SRC/bench/models/small.yaml" --out "$work/r" train.steps=40 train.log_every=10 data.train_size=512
expect_code 0
"$PYTHON" - "$work/r" "$SRC/bench" <<'PY' || fail "train lines lack consistent cumulative counters"
import json, sys
sys.path.insert(0, sys.argv[2])
import harness
lines = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl") if '"train"' in l]
assert [l["step"] for l in lines] == [10, 20, 30, 40], lines
assert [l["samples"] for l in lines] == [640, 1280, 1920, 2560], [l["samples"] for l in lines]  # batch 64
for a, b in zip(lines, lines[1:]):
    assert b["seconds"] > a["seconds"] and b["cpu_seconds"] > a["cpu_seconds"], (a, b)
rate = harness.steady_rate(sys.argv[1], 10)
expected = (2560 - 640) / (lines[-1]["seconds"] - lines[0]["seconds"])
assert abs(rate["wall"] - expected) < 1e-6 * expected and rate["cpu"] > 0, (rate, expected)
try:
    harness.steady_rate(sys.argv[1], 15)  # no line at step 15: refused, not guessed
    raise SystemExit("steady_rate accepted a warm-up step with no train line")
except harness.BenchError as e:
    assert "log_every" in str(e)
PY

baseline="$BUILD/bin/mmdebias-bench-baseline"
if [[ -x $baseline ]]; then
  "$baseline" train --steps 30 --warmup 10 --samples 512 --threads 1 >"$out" 2>"$err"; code=$?
  expect_code 0
  "$PYTHON" -c 'import json,sys; d=json.loads(open(sys.argv[1]).read().strip().splitlines()[-1]); assert d["steady_steps"] == 20 and d["steady_samples_per_s"] > 0 and d["steady_samples_per_cpu_s"] > 0, d' "$out" \
    || fail "baseline JSON"
  "$baseline" train --steps 10 --warmup 10 >"$out" 2>"$err"; code=$?
  expect_code 2; expect_err "--warmup must be below --steps"
  "$baseline" fly >"$out" 2>"$err"; code=$?
  expect_code 2; expect_err "unknown mode 'fly'"
else
  fail "$baseline is not built (MMDEBIAS_BUILD_BENCH=ON builds it)"
fi
"$PYTHON" "$SRC/bench/run" --only 99 >"$out" 2>"$err"; code=$?
expect_code 2; expect_err "unknown section '99'"
finish
