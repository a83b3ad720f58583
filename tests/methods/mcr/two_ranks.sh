# mcr.competition under data parallelism: 2 ranks x 16 equal 1 rank x 32 within 1e-5 after 12 steps, with
# every term on (game, rsl shuffle, contrastive, CEB with its decoder, unimodal CE). This holds only because
# the intervention builds the GLOBAL batch on every rank (ctx.all_gather) and takes the permutations from
# rank 0: per-shard permutations would permute within 16 samples and give another objective. The test is not
# vacuous: the same run with l = 0 ends elsewhere. Also: a run stopped at a checkpoint and resumed ends
# bitwise equal to the uninterrupted one (the permutation stream is restored).
source "$SRC/tests/cli/lib.bash"
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$work" "$out" "$err"' EXIT
manifest="$work/mcr.yaml"
cat >"$manifest" <<'YAML'
mmdebias: 1
data: {type: std.gaussian, modalities: 2, dim: 8, classes: 4, noise: [1.0, 3.0], train_size: 384, test_size: 64}
model:
  encoders:
    m0: {type: std.mlp, hidden: [16], out_dim: 8}
    m1: {type: std.mlp, hidden: [16], out_dim: 8}
  fusion: {type: std.concat}
interventions:
  - {type: mcr.competition, name: mcr, game: independent, l: 0.5, num_samples: 4, shuffle: rsl, lib: 1.0, multil: 0.1, contr_coeff: 0.5}
train: {steps: 12, batch_size: 16, optimizer: adam, lr: 0.01, checkpoint_every: 6, log_every: 6}
run: {name: mcr-dist, seed: 5, threads: 1, dist_timeout: 30}
YAML
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
sha() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["params_sha256"])' "$1/summary.json"; }

port=$(free_port)
for r in 0 1; do
  MASTER_ADDR=127.0.0.1 MASTER_PORT=$port WORLD_SIZE=2 RANK=$r LOCAL_RANK=$r LOCAL_WORLD_SIZE=2 \
    "$MMDEBIAS" run "$manifest" --out "$work/two" >"$work/two.rank$r.out" 2>"$work/two.rank$r.err" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || { cat "$work"/two.rank*.err; fail "the 2-rank run failed"; }; done
pids=()
run run "$manifest" --out "$work/one" train.batch_size=32
expect_code 0
run run "$manifest" --out "$work/off" train.batch_size=32 interventions.0.l=0
expect_code 0
grep -q '"mcr/competition"' "$work/one/metrics.jsonl" || fail "metrics.jsonl lacks the mcr/competition term"
grep -q '"mcr/ceb"' "$work/one/metrics.jsonl" || fail "metrics.jsonl lacks the mcr/ceb term"

"$PYTHON" -I - "$work/two" "$work/one" "$work/off" <<'PY' || fail "2 ranks x 16 and 1 rank x 32 differ beyond 1e-5 (or l = 0 changed nothing)"
import sys, torch
def params(d):
    m = torch.jit.load(d + "/checkpoints/" + open(d + "/checkpoints/latest").read().strip())
    return dict(m.model.named_parameters())
def worst(a, b):
    return max(((a[k] - b[k]).abs().max() / b[k].abs().max().clamp_min(1e-12)).item() for k in a)
two, one, off = params(sys.argv[1]), params(sys.argv[2]), params(sys.argv[3])
assert two.keys() == one.keys() and any("ceb" in k for k in one), sorted(one)
w = worst(two, one)
print(f"2 ranks vs 1 rank: largest relative difference over {len(one)} parameters: {w:.2e}")
assert w < 1e-5, w
enc = {k: v for k, v in one.items() if "encoders" in k}
gap = worst({k: off[k] for k in enc}, enc)
print(f"l = 0.5 vs l = 0: largest relative difference of the encoders: {gap:.2e}")
assert gap > 1e-3, gap
PY
r0=$(grep params_sha256 "$work/two.rank0.out" | awk '{print $NF}'); r1=$(grep params_sha256 "$work/two.rank1.out" | awk '{print $NF}')
[[ -n "$r0" && "$r0" == "$r1" ]] || fail "rank 0 and rank 1 hold different parameters: '$r0' vs '$r1'"

# Stopped after the step-6 checkpoint (the later one and the summary removed) and resumed: bitwise the same.
cp -r "$work/one" "$work/cut"
ls "$work/cut/checkpoints"
rm -f "$work/cut/summary.json" "$work/cut/checkpoints/ckpt-000000012.pt"*
echo "ckpt-000000006.pt" >"$work/cut/checkpoints/latest"
[[ -f "$work/cut/checkpoints/ckpt-000000006.pt" ]] || fail "no step-6 checkpoint to resume from"
run run --resume "$work/cut"
expect_code 0
[[ "$(sha "$work/cut")" == "$(sha "$work/one")" ]] || fail "the resumed run differs from the uninterrupted one"
finish
