# ARL over 2 ranks (c10d/Gloo on 127.0.0.1) x 32 samples equals 1 rank x 64: the uncertainties and weights are
# computed over the global batch (one all_reduce of the per-modality sums), so every logged weight and the
# final parameters and buffers (the ema state) agree within 1e-5 — for the entropy/batch and the variance/ema
# estimators. Without the reduction each rank would weight its own half batch and the runs would part.
source "$SRC/tests/cli/lib.bash"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work" "$out" "$err"' EXIT
manifest="$(dirname "$0")/dist.yaml"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

for variant in "entropy batch" "variance ema"; do
  read -r estimator mode <<<"$variant"
  opts=(estimators.0.estimator=$estimator estimators.0.mode=$mode estimators.0.decay=0.5)
  port=$(free_port)
  pids=()
  for r in 0 1; do
    MASTER_ADDR=127.0.0.1 MASTER_PORT=$port WORLD_SIZE=2 RANK=$r LOCAL_RANK=$r LOCAL_WORLD_SIZE=2 \
      "$MMDEBIAS" run "$manifest" --out "$work/two-$estimator" "${opts[@]}" >"$work/$estimator.rank$r.out" 2>"$work/$estimator.rank$r.err" &
    pids+=($!)
  done
  rc=0; for p in "${pids[@]}"; do wait "$p" || rc=$?; done
  [[ $rc -eq 0 ]] || { cat "$work/$estimator".rank*.err; fail "the 2-rank $variant run failed"; continue; }
  run run "$manifest" --out "$work/one-$estimator" train.batch_size=64 "${opts[@]}"
  expect_code 0
  "$PYTHON" -I - "$work/two-$estimator" "$work/one-$estimator" "$variant" <<'PY' || fail "$variant: 2 ranks x 32 and 1 rank x 64 differ"
import json, sys, torch
two, one, variant = sys.argv[1:4]
def state(d):
    m = torch.jit.load(d + "/checkpoints/" + open(d + "/checkpoints/latest").read().strip())
    return dict(m.model.named_parameters()), dict(m.model.named_buffers())
(pa, ba), (pb, bb) = state(two), state(one)
assert pa.keys() == pb.keys() and len(pa) > 0 and ba.keys() == bb.keys()
worst = max(((pa[k] - pb[k]).abs().max() / pb[k].abs().max().clamp_min(1e-12)).item() for k in pa)
print(f"{variant}: largest relative parameter difference {worst:.2e}")
assert worst < 1e-5, worst
if variant.endswith("ema"):
    ema = [k for k in ba if k.endswith("ema")]
    assert ema, list(ba)
    for k in ema:
        assert (ba[k] - bb[k]).abs().max().item() < 1e-6, (k, ba[k], bb[k])
        print(f"{k}: {ba[k].tolist()} vs {bb[k].tolist()}")
def weights(d):
    rows = [json.loads(l) for l in open(d + "/metrics.jsonl")]
    # The estimator's metrics are global-batch values; the intervention's ce/* are rank-local and not compared.
    return [(r["step"], {k: v for k, v in r["metrics"].items() if k.startswith("estimators.arl/")}) for r in rows if r.get("type") == "train"]
wa, wb = weights(two), weights(one)
assert len(wa) == len(wb) == 24, (len(wa), len(wb))
worst = max(abs(a[1][k] - b[1][k]) for a, b in zip(wa, wb) for k in b[1])
assert all(len(b[1]) == 6 for b in wb), wb[0]
spread = max(abs(a[1]["estimators.arl/weight/m0"] - 0.5) for a in wa)
print(f"{variant}: largest logged estimate difference {worst:.2e}; weights move up to {spread:.3f} from 0.5")
assert worst < 1e-5, worst
assert spread > 1e-3, "the weights never moved: the test would not notice a rank-local estimate"
PY
done
finish
