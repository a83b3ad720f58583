# causalmm data-parallel: with the contrast training term on (a deterministic edit, so no per-rank draws),
# 2 ranks x 32 equal 1 rank x 64 within 1e-5 after 16 steps, and the 2-rank run's contrastive evaluation
# equals one process evaluating the same checkpoint.
source "$SRC/tests/cli/lib.bash"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work" "$out" "$err"' EXIT
manifest="$SRC/tests/methods/causalmm/tiny.yaml"

two_ranks "$work/two" "$manifest"
run run "$manifest" --out "$work/one" train.batch_size=64
expect_code 0

"$PYTHON" - "$work/two" "$work/one" <<'PY' || fail "2 ranks x 32 and 1 rank x 64 differ beyond 1e-5"
import sys, torch
def params(d):
    m = torch.jit.load(d + "/checkpoints/" + open(d + "/checkpoints/latest").read().strip())
    return dict(m.model.named_parameters())
a, b = params(sys.argv[1]), params(sys.argv[2])
assert a.keys() == b.keys() and len(a) > 0
worst = max(((a[k] - b[k]).abs().max() / b[k].abs().max().clamp_min(1e-12)).item() for k in a)
print(f"largest relative difference over {len(a)} parameters: {worst:.2e}")
assert worst < 1e-5, worst
PY

run eval "$work/two" --json
expect_code 0
python3 - "$work/two/summary.json" "$out" <<'PY' || fail "the 2-rank contrastive evaluation differs from the 1-process one"
import json, sys
a = json.load(open(sys.argv[1]))["eval"]; b = json.load(open(sys.argv[2]))
assert a["count"] == b["count"], (a["count"], b["count"])
assert a["classification"]["confusion"] == b["classification"]["confusion"]
assert "interventions.causalmm/ace/fusion.layer0" in a["components"]
PY
finish
