# On a machine without a GPU every cuda/nccl setting is refused before any compute, with exit 2 and a message that
# names the device, says why (this build has no CUDA, or no GPU is visible) and what to change — alone and as 2 ranks
# (each rank refuses before the rendezvous: none waits for the other). Then run.backend=nccl on the CPU, and a
# CPU run with run.deterministic on.
source "$(dirname "$0")/lib.bash"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work" "$out" "$err"' EXIT
manifest="$SRC/tests/runs/dist.yaml"
small=(train.steps=4 train.checkpoint_every=0)

# Which refusal this build gives: "without CUDA" (Debian's LibTorch) or "no GPU is visible" (a CUDA LibTorch here).
run plugins --json
cuda=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["host"]["cuda"])' "$out")
if [[ "$cuda" == "0" ]]; then why="without CUDA"; else why="no GPU is visible"; fi

for device in cuda cuda:0 cuda:1; do
  run run "$manifest" --out "$work/$device" run.device=$device "${small[@]}"
  expect_code 2
  expect_err "run.device is '$device' but"
  expect_err "$why"
  expect_err "run.device=cpu"
  [[ ! -e "$work/$device" ]] || fail "a refused run.device=$device left a run directory behind"
done

start_two_ranks "$work/two" run "$manifest" --out "$work/two" run.device=cuda "${small[@]}"
for i in 0 1; do
  timeout 60 tail --pid="${pids[$i]}" -f /dev/null || fail "rank $i did not exit within 60 s after refusing run.device=cuda"
  wait "${pids[$i]}"; rc=$?
  [[ $rc -eq 2 ]] || fail "rank $i exited $rc, not 2, for run.device=cuda"
  grep -qF "$why" "$work/two.rank$i.err" || { cat "$work/two.rank$i.err"; fail "rank $i did not say '$why'"; }
done

run run "$manifest" --out "$work/nccl" run.backend=nccl "${small[@]}"
expect_code 2
expect_err "run.backend is 'nccl' but run.device is 'cpu'"
expect_err "run.backend=gloo"

run run "$manifest" --out "$work/tpu" run.device=tpu "${small[@]}"
expect_code 2
expect_err "run.device"

# run.deterministic on the CPU: accepted, and the run is what it is without it (no op of this model is affected).
run run "$manifest" --out "$work/det" run.deterministic=true "${small[@]}"
expect_code 0
det=$(grep params_sha256 "$out" | awk '{print $NF}')
run run "$manifest" --out "$work/plain" "${small[@]}"
expect_code 0
[[ -n "$det" && "$det" == "$(grep params_sha256 "$out" | awk '{print $NF}')" ]] || fail "run.deterministic changed a CPU run"
finish
