# A2D + NP-Mix run killed (SIGKILL) at a random step after NP-Mix started and resumed ends with the
# uninterrupted run's params_sha256 (the queues and the draw stream come back from the checkpoint); the
# checkpoint holds the full queues; evaluation through the host fits and runs every a2d scorer, and
# `mmdebias eval` on the run gives the same OOD metrics.
source "$SRC/tests/cli/lib.bash"
work=$(mktemp -d)
trap 'rm -rf "$work" "$out" "$err"' EXIT
manifest="$SRC/tests/methods/a2d/npmix.yaml"
sha() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["params_sha256"])' "$1/summary.json"; }

run run "$manifest" --out "$work/full"
expect_code 0
expect_out "params_sha256"
grep -q '"npmix/ood_entropy"' "$work/full/metrics.jsonl" || fail "metrics.jsonl lacks the NP-Mix terms"

# (4 classes, 1 held out as OOD: 3 queues.) Kill at a random step in epochs 2..6 (NP-Mix active), after a checkpoint was written in that range.
target=$((RANDOM % 150 + 60))
"$MMDEBIAS" run "$manifest" --out "$work/k" >/dev/null 2>&1 &
pid=$!
step=0
for _ in $(seq 1 6000); do
  step=$(tail -n 1 "$work/k/metrics.jsonl" 2>/dev/null | grep -o '"step":[0-9]*' | cut -d: -f2)
  [[ -n "$step" && "$step" -ge "$target" && -f "$work/k/checkpoints/latest" ]] && break
  sleep 0.005
done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
echo "killed at step ~$step (target $target), latest checkpoint $(cat "$work/k/checkpoints/latest" 2>/dev/null)"
[[ ! -f "$work/k/summary.json" ]] || fail "the run finished before it was killed: the kill tested nothing"
"$PYTHON" - "$work/k" <<'PY' || fail "the checkpoint lacks NP-Mix's full queues"
import sys, torch
d = sys.argv[1]
m = torch.jit.load(d + "/checkpoints/" + open(d + "/checkpoints/latest").read().strip())
buffers = dict(m.model.named_buffers())
queues = [v for k, v in buffers.items() if k.endswith("queues")]
counts = [v for k, v in buffers.items() if k.endswith("counts")]
assert len(queues) == 1 and len(counts) == 1, sorted(buffers)
assert tuple(queues[0].shape) == (3, 8, 32) and queues[0].abs().sum() > 0, queues[0].shape
assert counts[0].tolist() == [8, 8, 8], counts[0]
PY
run run --resume "$work/k"
expect_code 0
[[ "$(sha "$work/full")" == "$(sha "$work/k")" ]] || fail "killed and resumed run differs: $(sha "$work/k") vs $(sha "$work/full")"

# Evaluation through the host: every scorer reported with its metrics.
for s in msp mahalanobis knn gen vim react ash; do
  python3 - "$work/full/summary.json" "$s" <<'PY' || fail "scorer $s missing from the evaluation"
import json, sys
d = json.load(open(sys.argv[1]))
def find(o):
    if isinstance(o, dict):
        if "ood" in o and sys.argv[2] in o["ood"]:
            return o["ood"][sys.argv[2]]
        for v in o.values():
            r = find(v)
            if r is not None:
                return r
    return None
m = find(d)
assert m is not None and 0.0 <= m["auroc"] <= 1.0, m
PY
done
# mmdebias eval on the finished run (fitted statistics saved with the run) gives the same OOD metrics.
run eval "$work/full"
expect_code 0
python3 - "$work/full/summary.json" "$work/full/eval-test.json" <<'PY' || fail "mmdebias eval differs from the run's own evaluation"
import json, sys
a, b = json.load(open(sys.argv[1]))["eval"]["ood"], json.load(open(sys.argv[2]))["ood"]
assert a.keys() == b.keys() and len(a) == 7, (a.keys(), b.keys())
for k in a:
    assert abs(a[k]["auroc"] - b[k]["auroc"]) < 1e-12 and abs(a[k]["fpr_at_95tpr"] - b[k]["fpr_at_95tpr"]) < 1e-12, k
PY
finish
