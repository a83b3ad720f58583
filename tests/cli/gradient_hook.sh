# Hook 7 (after_backward) as documented: it sees each micro-batch of the step (train.accumulate of them), detached;
# its edit of the averaged gradients happens before clipping; noise from ctx.shared_rng keeps 2 ranks equal to 1
# rank, and run.check_replicas stops a run whose hook draws from the per-rank ctx.rng, naming the hook and the
# parameter, on every rank, with exit 1.
source "$(dirname "$0")/lib.bash"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work" "$out" "$err"' EXIT
manifest="$SRC/tests/runs/gradient_noise.yaml"
gradfix=(--plugin-path "$FIXTURES/gradfix")

# Accumulating 3 micro-batches of 32: the hook sees 3 micro-batches and 96 rows per step.
run run "$manifest" "${gradfix[@]}" --out "$work/acc" train.accumulate=3 train.steps=4 train.log_every=1
expect_code 0
python3 - "$work/acc/metrics.jsonl" <<'PY' || fail "hook 7 did not see the step's micro-batches"
import json, sys
train = [json.loads(l) for l in open(sys.argv[1]) if '"train"' in l]
assert len(train) == 4, len(train)
for t in train:
    assert t["metrics"]["interventions.noise/micro_batches"] == 3 and t["metrics"]["interventions.noise/rows"] == 96, t["metrics"]
PY

# Rank-shared noise: 2 ranks x 32 reproduce 1 rank x 64, and the replicas stay bitwise equal (checked every step).
two_ranks "$work/two" "$manifest" "${gradfix[@]}" run.check_replicas=true
run run "$manifest" "${gradfix[@]}" --out "$work/one" train.batch_size=64
expect_code 0
r0=$(grep params_sha256 "$work/two.rank0.out" | awk '{print $NF}'); r1=$(grep params_sha256 "$work/two.rank1.out" | awk '{print $NF}')
[[ -n "$r0" && "$r0" == "$r1" ]] || fail "rank 0 and rank 1 hold different parameters: '$r0' vs '$r1'"
expect_params_close "$work/two" "$work/one" "rank-shared noise: 2 ranks x 32 and 1 rank x 64"

# Per-rank noise: without the check the run ends "fine" with diverged replicas; with it, both ranks stop at step 1.
two_ranks "$work/silent" "$manifest" "${gradfix[@]}" interventions.0.stream=rank train.steps=3
s0=$(grep params_sha256 "$work/silent.rank0.out" | awk '{print $NF}'); s1=$(grep params_sha256 "$work/silent.rank1.out" | awk '{print $NF}')
[[ -n "$s0" && "$s0" != "$s1" ]] || fail "per-rank noise should have made the replicas differ (the check would be untested)"
start_two_ranks "$work/caught" run "$manifest" "${gradfix[@]}" interventions.0.stream=rank run.check_replicas=true --out "$work/caught"
for r in 0 1; do
  rc=0; wait "${pids[$r]}" || rc=$?
  [[ $rc -eq 1 ]] || { cat "$work/caught.rank$r.err"; fail "rank $r exited $rc, not 1"; }
  for text in "plugin 'gradfix', component interventions.noise (gradfix.noise), hook after_backward" \
              "run.check_replicas: at step 1" "differs between rank 0 and rank 1" "ctx.shared_rng"; do
    grep -qF "$text" "$work/caught.rank$r.err" || { cat "$work/caught.rank$r.err"; fail "rank $r's error lacks: $text"; }
  done
done
finish
