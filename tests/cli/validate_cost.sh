# `mmdebias validate --cost` against measured runs (tolerances in docs/composing.md): parameter counts exact
# (the checkpoint's module tree); the components' extra model passes exact (the host counts sdk::Model::forward
# calls in training and evaluation); MCR's head rows exact with shuffle rand (passes x its logged
# permuted_rows); parameter + optimizer memory: the growth of peak RSS between a small and a large model is
# between 1x and 3x the growth of the estimate (RSS also holds LibTorch, so only the difference is
# comparable; the growth also holds activations, MCR's permuted passes and the checkpoint's serialised copy,
# which the estimate leaves out: it is a lower bound).
source "$(dirname "$0")/lib.bash"
work=$(mktemp -d)
trap 'rm -rf "$work" "$out" "$err"' EXIT
cost() { "$MMDEBIAS" validate --cost --json "$@" >"$work/cost.json" || fail "validate --cost $*"; }

run validate --cost "$SRC/tests/methods/causalmm/tiny.yaml"
expect_code 0
expect_out "interventions.causalmm"
expect_out "per training step 2 model pass(es)"
expect_out "per evaluation batch 2 model pass(es)"

# CausalMM with its training term: 1 extra pass per training step and per evaluation batch (one level).
cost "$SRC/tests/methods/causalmm/tiny.yaml"
run run "$SRC/tests/methods/causalmm/tiny.yaml" --out "$work/causalmm-tiny"
expect_code 0
# MCR, greedy, 2 modalities, S = 32: 4 passes x 32 x B rows through fuse + head per step.
"$MMDEBIAS" validate --cost --json "$SRC/examples/mcr-gaussian.yaml" train.epochs=1 >"$work/mcr_cost.json" || fail "mcr cost"
run run "$SRC/examples/mcr-gaussian.yaml" train.epochs=1 --out "$work/mcr-gaussian"
expect_code 0
"$PYTHON" - "$work" <<'PY' || fail "the estimate differs from the measured runs"
import json, sys, torch
w = sys.argv[1]
def params(d):
    m = torch.jit.load(d + "/checkpoints/" + open(d + "/checkpoints/latest").read().strip())
    return sum(p.numel() for p in m.model.parameters())
def train_lines(d): return [json.loads(l) for l in open(d + "/metrics.jsonl") if '"train"' in l]
c = json.load(open(w + "/cost.json")); d = w + "/causalmm-tiny"
assert params(d) == c["parameters"], (params(d), c["parameters"])
last = train_lines(d)[-1]
assert last["model_forward_calls"] == (c["train_forwards"] - 1) * last["step"], (last, c["train_forwards"])
host = json.load(open(d + "/summary.json"))["eval"]["host"]
assert host["model_forward_calls"] == (c["eval_forwards"] - 1) * host["batches"], (host, c["eval_forwards"])
m = json.load(open(w + "/mcr_cost.json")); d = w + "/mcr-gaussian"
assert params(d) == m["parameters"], (params(d), m["parameters"])
mcr = [k for k in m["components"] if k["type"] == "mcr.competition"][0]
assert mcr["train_head_rows_per_sample"] == 4 * 32, mcr
rows = [t["metrics"]["interventions.mcr/permuted_rows"] for t in train_lines(d)]
B = m["train_batch"]
assert all(r * 4 == mcr["train_head_rows_per_sample"] * B for r in rows), (rows[:3], B)
print("params", params(d), "forwards and rows as estimated")
PY

# Memory: a model with ~4.2M more parameters; Adam keeps value, gradient, m and v (16 bytes a parameter).
big=(model.encoders.m0.hidden=[2048,2048] model.encoders.m1.hidden=[2048,2048] train.steps=3 train.epochs=0)
small=(train.steps=3 train.epochs=0)
rss() { local name=$1; shift; /usr/bin/time -f %M "$MMDEBIAS" run "$SRC/examples/mcr-gaussian.yaml" "$@" --out "$work/$name" 2>&1 >/dev/null | tail -1; }
"$MMDEBIAS" validate --cost --json "$SRC/examples/mcr-gaussian.yaml" "${small[@]}" >"$work/small.json" || fail "small cost"
"$MMDEBIAS" validate --cost --json "$SRC/examples/mcr-gaussian.yaml" "${big[@]}" >"$work/big.json" || fail "big cost"
rss_small=$(rss small "${small[@]}") rss_big=$(rss big "${big[@]}")
"$PYTHON" - "$work" "$rss_small" "$rss_big" <<'PY' || fail "peak RSS growth is not within 1x..3x the estimated memory growth"
import json, sys
w, small, big = sys.argv[1], int(sys.argv[2]) * 1024, int(sys.argv[3]) * 1024
est = json.load(open(w + "/big.json"))["memory_bytes"] - json.load(open(w + "/small.json"))["memory_bytes"]
measured = big - small
print(f"estimated growth {est / 2**20:.1f} MiB, peak RSS growth {measured / 2**20:.1f} MiB")
assert est <= measured <= 3 * est, (measured, est)
PY
finish
