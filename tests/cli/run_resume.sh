# Same seed, same params_sha256 (with the loader thread and reading in line); a run killed with SIGKILL at a
# random step and resumed (in line) ends with the uninterrupted run's params_sha256; resume refuses a changed
# manifest and a corrupt checkpoint.
source "$(dirname "$0")/lib.bash"
work=$(mktemp -d)
trap 'rm -rf "$work" "$out" "$err"' EXIT
manifest="$SRC/tests/runs/tiny.yaml"
long=train.epochs=32  # 1024 steps: long enough to be killed in the middle
sha() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["params_sha256"])' "$1/summary.json"; }

run run "$manifest" --out "$work/a"
expect_code 0
expect_out "params_sha256"
[[ -f "$work/a/summary.json" && -f "$work/a/metrics.jsonl" && -f "$work/a/resolved.yaml" && -f "$work/a/manifest.yaml" ]] || fail "run directory incomplete"
run run "$manifest" --out "$work/b"
expect_code 0
[[ "$(sha "$work/a")" == "$(sha "$work/b")" ]] || fail "same seed, different params_sha256"
# Reading in line (run.prefetch=0: no loader thread) trains the very same weights.
run run "$manifest" --out "$work/inline" run.prefetch=0
expect_code 0
[[ "$(sha "$work/a")" == "$(sha "$work/inline")" ]] || fail "run.prefetch=0 gave another params_sha256 than the default 4"
run run "$manifest" --out "$work/c" run.seed=8
[[ "$(sha "$work/a")" != "$(sha "$work/c")" ]] || fail "another seed gave the same params_sha256"

# SIGKILL at a random step (after the first checkpoint), resume, and compare with an uninterrupted run.
run run "$manifest" --out "$work/long" $long
expect_code 0
target=$((RANDOM % 900 + 15))
"$MMDEBIAS" run "$manifest" --out "$work/k" $long >/dev/null 2>&1 &
pid=$!
step=0
for _ in $(seq 1 3000); do
  step=$(tail -n 1 "$work/k/metrics.jsonl" 2>/dev/null | grep -o '"step":[0-9]*' | cut -d: -f2)
  [[ -n "$step" && "$step" -ge "$target" && -f "$work/k/checkpoints/latest" ]] && break
  sleep 0.005
done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
echo "killed at step ~$step (target $target), latest checkpoint $(cat "$work/k/checkpoints/latest" 2>/dev/null)"
[[ ! -f "$work/k/summary.json" ]] || fail "the run finished before it was killed: the kill tested nothing"
run run --resume "$work/k" run.prefetch=0  # killed with a loader thread, resumed reading in line
expect_code 0
expect_out "params_sha256"
[[ "$(sha "$work/long")" == "$(sha "$work/k")" ]] || fail "killed and resumed run differs: $(sha "$work/k") vs $(sha "$work/long")"
python3 - "$work/k/metrics.jsonl" <<'PY' || fail "metrics.jsonl of the resumed run has gaps or repeats"
import json, sys
steps = [json.loads(l)["step"] for l in open(sys.argv[1]) if l.strip() and json.loads(l)["type"] == "train"]
assert steps == sorted(set(steps)) and steps == list(range(5, steps[-1] + 1, 5)), steps
PY

# A manifest change that matters is refused, naming it.
run run --resume "$work/a" train.lr=0.5
expect_code 2
expect_err "train.lr: 0.05 -> 0.5"
# A corrupt checkpoint is refused with a clear message.
ckpt="$work/a/checkpoints/$(cat "$work/a/checkpoints/latest")"
truncate -s 1000 "$ckpt"
run run --resume "$work/a"
expect_code 2
expect_err "is corrupt or truncated"
# Evaluating on another split works and writes its file.
run eval "$work/b" eval.split=val
expect_code 0
expect_out "evaluation on 'val'"
[[ -f "$work/b/eval-val.json" ]] || fail "eval-val.json missing"
finish
