# Same seed, same params_sha256; a run killed with SIGKILL at a random step and resumed ends with the
# uninterrupted run's params_sha256; resume refuses a changed manifest and a corrupt checkpoint.
source "$(dirname "$0")/lib.bash"
work=$(mktemp -d)
trap 'rm -rf "$work" "$out" "$err"' EXIT
manifest="$SRC/tests/runs/tiny.yaml"
sha() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["params_sha256"])' "$1/summary.json"; }

run run "$manifest" --out "$work/a"
expect_code 0
expect_out "params_sha256"
[[ -f "$work/a/summary.json" && -f "$work/a/metrics.jsonl" && -f "$work/a/resolved.yaml" && -f "$work/a/manifest.yaml" ]] || fail "run directory incomplete"
run run "$manifest" --out "$work/b"
expect_code 0
[[ "$(sha "$work/a")" == "$(sha "$work/b")" ]] || fail "same seed, different params_sha256"
run run "$manifest" --out "$work/c" run.seed=8
[[ "$(sha "$work/a")" != "$(sha "$work/c")" ]] || fail "another seed gave the same params_sha256"

# Kill at a random point after the first checkpoint, then resume; repeat until the run completes.
kills=0
"$MMDEBIAS" run "$manifest" --out "$work/k" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 600); do [[ -f "$work/k/checkpoints/latest" ]] && break; sleep 0.01; done
sleep "0.$((RANDOM % 9))$((RANDOM % 10))"
if kill -9 "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
wait "$pid" 2>/dev/null
echo "killed after checkpoint $(cat "$work/k/checkpoints/latest" 2>/dev/null)"
if [[ ! -f "$work/k/summary.json" ]]; then
  run run --resume "$work/k"
  expect_code 0
  expect_out "params_sha256"
fi
[[ "$(sha "$work/a")" == "$(sha "$work/k")" ]] || fail "killed ($kills) and resumed run differs: $(sha "$work/k") vs $(sha "$work/a")"
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
