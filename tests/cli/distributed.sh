# Data parallel over c10d/Gloo with 2 processes on 127.0.0.1 (a free port each time):
# 2 ranks x 32 equal 1 rank x 64 within 1e-5 after 20 steps (also with 10 KB buckets reduced during backward and 2
# micro-batches a step), ranks end bitwise equal, evaluation from
# 2 ranks equals one process's, a killed rank is named by the survivor, and a 2-rank run killed and
# resumed matches the uninterrupted one, a NaN loss on one rank stops both at once, and a loss term that one
# rank adds on some steps only is logged on those steps by name.
source "$(dirname "$0")/lib.bash"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work" "$out" "$err"' EXIT
manifest="$SRC/tests/runs/dist.yaml"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
field() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval("d"+sys.argv[2]))' "$@"; }

# launch NAME ARGS...: two ranks in the background, their output in $work/NAME.rank{0,1}.{out,err}; pids in $pids.
launch() {
  local name=$1; shift
  local port; port=$(free_port)
  pids=()
  for r in 0 1; do
    MASTER_ADDR=127.0.0.1 MASTER_PORT=$port WORLD_SIZE=2 RANK=$r LOCAL_RANK=$r LOCAL_WORLD_SIZE=2 \
      "$MMDEBIAS" run "$@" >"$work/$name.rank$r.out" 2>"$work/$name.rank$r.err" &
    pids+=($!)
  done
}
wait_all() { local rc=0; for p in "${pids[@]}"; do wait "$p" || rc=$?; done; return $rc; }

launch two "$manifest" --out "$work/two"
wait_all || { cat "$work"/two.rank*.err; fail "the 2-rank run failed"; }
run run "$manifest" --out "$work/one" train.batch_size=64
expect_code 0

expect_params_close "$work/two" "$work/one" "2 ranks x 32 and 1 rank x 64"
r0=$(grep params_sha256 "$work/two.rank0.out" | awk '{print $NF}'); r1=$(grep params_sha256 "$work/two.rank1.out" | awk '{print $NF}')
[[ -n "$r0" && "$r0" == "$r1" ]] || fail "rank 0 and rank 1 hold different parameters: '$r0' vs '$r1'"

# Many small buckets, most of them reduced while backward still runs, and two micro-batches per step (only the second
# backward reduces): still what one process computes, and the ranks still end equal.
launch buckets "$manifest" --out "$work/buckets" run.bucket_mb=0.01 train.accumulate=2
wait_all || { cat "$work"/buckets.rank*.err; fail "the 2-rank run with small buckets failed"; }
run run "$manifest" --out "$work/one_acc" train.batch_size=64 train.accumulate=2
expect_code 0
expect_params_close "$work/buckets" "$work/one_acc" "2 ranks x 32 and 1 rank x 64 with 10 KB buckets and 2 micro-batches a step"
b0=$(grep params_sha256 "$work/buckets.rank0.out" | awk '{print $NF}'); b1=$(grep params_sha256 "$work/buckets.rank1.out" | awk '{print $NF}')
[[ -n "$b0" && "$b0" == "$b1" ]] || fail "with small buckets, rank 0 and rank 1 hold different parameters"
# The same buckets all reduced after backward (run.overlap_reduce=false): the same sums, so the same bits.
launch after "$manifest" --out "$work/after" run.bucket_mb=0.01 train.accumulate=2 run.overlap_reduce=false
wait_all || { cat "$work"/after.rank*.err; fail "the 2-rank run reducing after backward failed"; }
a0=$(grep params_sha256 "$work/after.rank0.out" | awk '{print $NF}')
[[ -n "$a0" && "$a0" == "$b0" ]] || fail "reducing during and after backward ended with different parameters: '$b0' vs '$a0'"

# torchrun of the PyTorch whose LibTorch the host runs (the tests' Python: Debian's for 1.13, the wheel's for 2.x; a
# torchrun of another version hosts a store the host's TCPStore client cannot talk to) launches the same run; its
# agent hosts the store. (Python 3.11 needs --redirects 1 --tee 1 with 1.13's.)
if "$PYTHON" -c 'import torch.distributed.run' 2>/dev/null; then
  timeout 120 "$PYTHON" -m torch.distributed.run --nproc_per_node 2 --master_port "$(free_port)" --no_python --redirects 1 --tee 1 \
    --log_dir "$work/torchrun-logs" "$MMDEBIAS" run "$manifest" --out "$work/torchrun" >"$work/torchrun.out" 2>&1 ||
    { tail -20 "$work/torchrun.out"; cat "$work"/torchrun-logs/*/attempt_0/*/std*.log 2>/dev/null | tail -20; fail "torchrun launch failed"; }
  [[ "$(field "$work/torchrun/summary.json" '["params_sha256"]')" == "$r0" ]] || fail "the torchrun-launched run differs from the env-launched one"
else
  fail "torchrun is missing for $PYTHON: install python3-torch (scripts/setup --tests does)"
fi

# Evaluation gathered from 2 ranks equals a single process evaluating the same checkpoint.
run eval "$work/two" --json
expect_code 0
python3 - "$work/two/summary.json" "$out" <<'PY' || fail "2-rank evaluation differs from the 1-process one"
import json, sys
a = json.load(open(sys.argv[1]))["eval"]; b = json.load(open(sys.argv[2]))
assert a["count"] == b["count"] and a["count_ood"] == b["count_ood"], (a["count"], b["count"])
assert a["classification"]["confusion"] == b["classification"]["confusion"]
for s in a["ood"]:
    for k in ("auroc", "fpr_at_95tpr", "aupr_in", "aupr_out"):
        assert abs(a["ood"][s][k] - b["ood"][s][k]) < 1e-12, (s, k)
PY

# Kill rank 1: rank 0 ends non-zero, naming rank 1, within the timeout (run.dist_timeout 20 s).
launch killed "$manifest" --out "$work/killed" train.steps=100000 train.checkpoint_every=50
for _ in $(seq 1 600); do [[ -f "$work/killed/checkpoints/latest" ]] && break; sleep 0.05; done
kill -9 "${pids[1]}"
start=$(date +%s)
wait "${pids[0]}"; code0=$?
elapsed=$(( $(date +%s) - start ))
echo "rank 0 exited $code0 after ${elapsed}s: $(grep -m1 distributed "$work/killed.rank0.err")"
[[ $code0 -ne 0 ]] || fail "rank 0 exited 0 after rank 1 was killed"
grep -q "rank 1 stopped responding" "$work/killed.rank0.err" || fail "rank 0 did not name rank 1: $(tail -2 "$work/killed.rank0.err")"
(( elapsed <= 30 )) || fail "rank 0 took ${elapsed}s to notice"

# A rank that hangs (SIGSTOP) rather than dies is named too, once run.dist_timeout has passed.
launch hung "$manifest" --out "$work/hung" train.steps=100000 train.checkpoint_every=50 run.dist_timeout=4
for _ in $(seq 1 600); do [[ -f "$work/hung/checkpoints/latest" ]] && break; sleep 0.05; done
kill -STOP "${pids[1]}"
start=$(date +%s)
wait "${pids[0]}"; code0=$?
elapsed=$(( $(date +%s) - start ))
kill -9 "${pids[1]}" 2>/dev/null; wait "${pids[1]}" 2>/dev/null
echo "rank 0 exited $code0 after ${elapsed}s: $(grep -m1 distributed "$work/hung.rank0.err")"
[[ $code0 -ne 0 ]] || fail "rank 0 exited 0 while rank 1 hung"
grep -q "rank 1 stopped responding" "$work/hung.rank0.err" || fail "rank 0 did not name the hung rank 1: $(tail -2 "$work/hung.rank0.err")"
(( elapsed <= 20 )) || fail "rank 0 took ${elapsed}s to notice a hung rank with a 4 s timeout"

# srun's variables and a FileStore rendezvous give the same run as torchrun's variables and a TCPStore.
store="$work/store"
for r in 0 1; do
  SLURM_PROCID=$r SLURM_NTASKS=2 SLURM_LOCALID=$r SLURM_NTASKS_PER_NODE=2 MMDEBIAS_STORE_FILE="$store" \
    "$MMDEBIAS" run "$manifest" --out "$work/slurm" >"$work/slurm.rank$r.out" 2>"$work/slurm.rank$r.err" &
  pids[$r]=$!
done
wait_all || { cat "$work"/slurm.rank*.err; fail "the SLURM-style run failed"; }
[[ "$(field "$work/slurm/summary.json" '["params_sha256"]')" == "$(field "$work/two/summary.json" '["params_sha256"]')" ]] ||
  fail "the SLURM/FileStore run differs from the torchrun/TCPStore run"

# Kill both ranks after a checkpoint, resume with 2 ranks: the uninterrupted 2-rank run's params_sha256.
launch crash "$manifest" --out "$work/crash"
for _ in $(seq 1 600); do [[ -f "$work/crash/checkpoints/latest" ]] && break; sleep 0.02; done
kill -9 "${pids[@]}" 2>/dev/null; wait "${pids[@]}" 2>/dev/null
echo "killed both after $(cat "$work/crash/checkpoints/latest" 2>/dev/null)"
if [[ ! -f "$work/crash/summary.json" ]]; then
  launch resumed --resume "$work/crash"
  wait_all || { cat "$work"/resumed.rank*.err; fail "the 2-rank resume failed"; }
fi
[[ "$(field "$work/crash/summary.json" '["params_sha256"]')" == "$(field "$work/two/summary.json" '["params_sha256"]')" ]] ||
  fail "the resumed 2-rank run differs from the uninterrupted one"
# A loss that turns NaN on one rank only (step 12) stops both ranks at that step with the message, before the
# weights change: the NaN rides in the step's one collective, so neither rank waits for the other to time out.
launch nan "$manifest" --plugin-path "$FIXTURES/fixture" --out "$work/nan" 'interventions=[{type: fixture.poison, at_step: 12, rank: 1}]'
started=$SECONDS
if wait_all; then fail "a NaN loss on rank 1 did not fail the 2-rank run"; fi
((SECONDS - started < 15)) || fail "the ranks took $((SECONDS - started)) s to stop at a NaN loss (dist_timeout is 20 s)"
for r in 0 1; do
  grep -q "step 12: the loss is not finite (term 'poison/poison' = nan)" "$work/nan.rank$r.err" ||
    { cat "$work/nan.rank$r.err"; fail "rank $r did not name the non-finite term"; }
done
expect_checkpoints_intact "$work/nan" ckpt-000000010.pt

# Loss terms are kept by name: a term that only rank 1 adds, only on even steps, is logged on those steps as the
# mean over the ranks that added it (rank 1's 2.0), and is absent from the others; nothing hangs or shifts.
launch sometimes "$manifest" --plugin-path "$FIXTURES/fixture" --out "$work/sometimes" train.steps=6 train.log_every=1 \
  'interventions=[{type: fixture.sometimes, every: 2, rank: 1}]'
wait_all || { cat "$work"/sometimes.rank*.err; fail "the 2-rank run with a term on some steps and one rank failed"; }
"$PYTHON" - "$work/sometimes/metrics.jsonl" <<'PY' || fail "a term added on some steps by one rank was logged wrongly"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if '"train"' in l]
assert [l["step"] for l in lines] == [1, 2, 3, 4, 5, 6], lines
for l in lines:
    terms = l["terms"]
    assert "task" in terms, l
    if l["step"] % 2 == 0:
        assert terms.get("sometimes/sometimes") == 2.0, l
    else:
        assert "sometimes/sometimes" not in terms, l
PY
finish
