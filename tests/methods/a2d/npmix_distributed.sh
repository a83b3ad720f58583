# A2D + NP-Mix data-parallel: 2 ranks x 16 equal 1 rank x 32 within 1e-5 after 40 steps with NP-Mix active
# from the second step (queues from the all-gathered global batch, rank 0's draw), and both ranks end with
# the same queues as the single process.
source "$SRC/tests/cli/lib.bash"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work" "$out" "$err"' EXIT
manifest="$SRC/tests/methods/a2d/npmix.yaml"
common=(train.steps=40 train.checkpoint_every=40 "model.encoders.m0.dropout=0" "model.encoders.m1.dropout=0"
        "interventions=[{type: a2d.disagree}, {type: a2d.npmix, queue_size: 4, start_epoch: 0}]" "eval.scorers=[{type: std.msp}]")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
pids=()
for r in 0 1; do
  MASTER_ADDR=127.0.0.1 MASTER_PORT=$port WORLD_SIZE=2 RANK=$r LOCAL_RANK=$r LOCAL_WORLD_SIZE=2 \
    "$MMDEBIAS" run "$manifest" --out "$work/two" train.batch_size=16 "${common[@]}" >"$work/rank$r.out" 2>"$work/rank$r.err" &
  pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=$?; done
[[ $rc -eq 0 ]] || { cat "$work"/rank*.err; fail "the 2-rank run failed"; }
run run "$manifest" --out "$work/one" train.batch_size=32 "${common[@]}"
expect_code 0
grep -rq 'npmix/active":1' "$work/one" || fail "NP-Mix never became active"
"$PYTHON" - "$work/two" "$work/one" <<'PY' || fail "2 ranks x 16 and 1 rank x 32 differ beyond 1e-5"
import glob, sys, torch
def load(d):
    run = glob.glob(d + "/**/checkpoints/latest", recursive=True)[0].rsplit("/", 1)[0]
    return torch.jit.load(run + "/" + open(run + "/latest").read().strip())
a, b = load(sys.argv[1]), load(sys.argv[2])
pa, pb = dict(a.model.named_parameters()), dict(b.model.named_parameters())
assert pa.keys() == pb.keys() and len(pa) > 0
worst = max(((pa[k] - pb[k]).abs().max() / pb[k].abs().max().clamp_min(1e-12)).item() for k in pa)
qa = [v for k, v in a.model.named_buffers() if k.endswith("queues")][0]
qb = [v for k, v in b.model.named_buffers() if k.endswith("queues")][0]
print(f"largest relative parameter difference {worst:.2e}; queue difference {(qa - qb).abs().max().item():.2e}")
assert worst < 1e-5, worst
assert (qa - qb).abs().max().item() < 1e-5
PY
r0=$(grep params_sha256 "$work/rank0.out" | awk '{print $NF}'); r1=$(grep params_sha256 "$work/rank1.out" | awk '{print $NF}')
[[ -n "$r0" && "$r0" == "$r1" ]] || fail "rank 0 and rank 1 hold different parameters: '$r0' vs '$r1'"
finish
