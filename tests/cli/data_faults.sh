# Faults in the user's data (data.files) end with exit 2 and a message naming the data, never a crash or lost work:
# a .npy file re-saved with np.save or cut short during a run (the last checkpoint intact), NaN features (named, not
# blamed on train.lr), a label that leaves most classes empty (a warning saying how to set the class count), a label
# too large to be a class index, an empty training split, an absurd batch size, bad values found at the first read.
# `validate` refuses what the labels' scan finds.
source "$(dirname "$0")/lib.bash"
py=$PYTHON  # the tests' Python, with numpy (as tests/python/write_files_dataset.py)
work=$(mktemp -d)
trap 'rm -rf "$work" "$out" "$err"' EXIT

# make_data DIR [N]: DIR/train (N rows) and DIR/test (64 rows) of x.npy float32 [., 8] and label.npy (3 classes).
make_data() {
  $py - "$1" "${2:-256}" <<'PY'
import os, sys
import numpy as np
root, n = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(0)
for split, size in (("train", n), ("test", 64)):
    os.makedirs(os.path.join(root, split), exist_ok=True)
    y = np.arange(size) % 3
    np.save(os.path.join(root, split, "x.npy"), (rng.standard_normal((size, 8)) + y[:, None]).astype(np.float32))
    np.save(os.path.join(root, split, "label.npy"), y.astype(np.int64))
PY
}
# edit FILE CODE: a = np.load(FILE); CODE; np.save(FILE, a) — the file rewritten in place, as a user does.
edit() { $py -c "import sys; import numpy as np; p = sys.argv[1]; a = np.load(p); $2; np.save(p, a)" "$1"; }

manifest="$work/files.yaml"
cat >"$manifest" <<EOF
mmdebias: 1
data: {type: data.files, root: $work/data}
model:
  encoders: {x: {type: std.mlp, hidden: [16], out_dim: 8}}
  fusion: {type: std.concat}
train: {epochs: 2, batch_size: 32, checkpoint_every: 4, log_every: 4}
eval: {scorers: []}
run: {threads: 1, seed: 1}
EOF

# during NAME COMMAND: starts a long run on a fresh dataset NAME, runs COMMAND (with $x the training x.npy) once the
# first checkpoint is written, and waits for the run: it must stop with exit 2 (never 135, SIGBUS), naming x.npy,
# with its latest checkpoint verifying.
during() {
  local name=$1 command=$2 dir="$work/run-$1" pid _
  make_data "$work/$name" 4096
  x="$work/$name/train/x.npy"
  timeout 300 "$MMDEBIAS" run "$manifest" --out "$dir" data.root="$work/$name" train.steps=1000000 \
    train.checkpoint_every=10 train.eval_every=1000000 >"$out" 2>"$err" &
  pid=$!
  for _ in $(seq 1200); do [[ -s "$dir/checkpoints/latest" ]] && break; sleep 0.1; done
  [[ -s "$dir/checkpoints/latest" ]] || fail "$name: no checkpoint after 120 s"
  eval "$command"
  wait "$pid"; code=$?
  [[ $code -ne 135 ]] || fail "$name: killed by SIGBUS"
  expect_code 2
  expect_err "data.files: $x changed on disk while the run was reading it"
  expect_err "training stopped after step"
  expect_err "is intact"
  expect_checkpoints_intact "$dir" "$(cat "$dir/checkpoints/latest")"
}

# np.save of a same-shape array over the training file, mid-run.
during resave 'edit "$x" "a = a * 2"'
expect_err "(it was "
# Cut short in place, mid-run: a mapping would SIGBUS on its missing pages.
during cut 'truncate -s 1000 "$x"'
expect_err "truncated or rewritten in place"
expect_err "-> 1000 bytes"

# Cut short before the run: validate refuses it, from the file's size.
make_data "$work/short"
truncate -s 1000 "$work/short/train/x.npy"
run validate "$manifest" data.root="$work/short"
expect_code 2
expect_err "$work/short/train/x.npy: truncated data"

# NaN features: the message names the data, the input and the sample, not the learning rate.
make_data "$work/nan"
edit "$work/nan/train/x.npy" "a[5, 0] = np.nan"
run run "$manifest" --out "$work/run-nan" data.root="$work/nan"
expect_code 2
expect_err "the loss is not finite because the training data is not: input 'x' of sample 5 holds nan (dataset data.files, split 'train')"
grep -qF "lower train.lr" "$err" && fail "NaN in the data blamed on train.lr"

# A label 99 in 3-class data: valid, but warned of loudly, by validate and by run, saying how to set the class count.
make_data "$work/sparse"
edit "$work/sparse/train/label.npy" "a[7] = 99"
run validate "$manifest" data.root="$work/sparse"
expect_code 0
expect_err "warning: data.files: most classes have no sample: only 4 of the 100 classes occur in any split"
expect_err "$work/sparse/train/label.npy: row 7"
expect_err "set num_classes: 100 in the data section (e.g. data.num_classes=100)"
run run "$manifest" --out "$work/run-sparse" data.root="$work/sparse" train.steps=2
expect_code 0
expect_err "warning: data.files: most classes have no sample"
run validate "$manifest" data.root="$work/sparse" data.num_classes=100
expect_code 0
grep -qF "warning:" "$err" && fail "warned although num_classes says 100"

# A label of 2^40: refused naming label.npy and the value (it asked for a 70 TB head at model.fusion).
make_data "$work/huge"
edit "$work/huge/train/label.npy" "a[3] = 2**40"
run validate "$manifest" data.root="$work/huge"
expect_code 2
expect_err "$work/huge/train/label.npy: row 3 holds label 1099511627776"
run run "$manifest" --out "$work/run-huge" data.root="$work/huge"
expect_code 2
expect_err "$work/huge/train/label.npy: row 3 holds label 1099511627776"

# A negative label (not flagged OOD): validate refuses it, and run exits 2 (it was a failure while running, exit 1).
make_data "$work/negative"
edit "$work/negative/test/label.npy" "a[9] = -3"
run validate "$manifest" data.root="$work/negative"
expect_code 2
expect_err "$work/negative/test/label.npy: row 9 holds label -3"
run run "$manifest" --out "$work/run-negative" data.root="$work/negative"
expect_code 2
expect_err "$work/negative/test/label.npy: row 9 holds label -3"

# A token id outside the vocabulary, found at the first read: exit 2 naming the file and the row.
make_data "$work/tokens"
$py -c "import numpy as np; t = np.ones((256, 4), np.int64); t[17, 2] = 9; np.save('$work/tokens/train/tok.npy', t); np.save('$work/tokens/test/tok.npy', np.ones((64, 4), np.int64))"
run run "$manifest" --out "$work/run-tokens" data.root="$work/tokens" 'data.vocab_sizes=[tok=4]' \
  'model.encoders.tok={type: std.tokens}'
expect_code 2
expect_err "$work/tokens/train/tok.npy: row 17 holds token id 9, outside [0, 4)"

# An empty training split: said so, not blamed on the batch size or drop_last.
make_data "$work/empty"
$py -c "import numpy as np; np.save('$work/empty/train/x.npy', np.zeros((0, 8), np.float32)); np.save('$work/empty/train/label.npy', np.zeros(0, np.int64))"
run run "$manifest" --out "$work/run-empty" data.root="$work/empty"
expect_code 2
expect_err "the training split ('train') is empty"
grep -qF "drop_last" "$err" && fail "an empty split blamed on drop_last"

# A batch size of 2^63 - 1: refused naming the key, by validate and by run.
make_data "$work/data"
for key in train.batch_size eval.batch_size; do
  run validate "$manifest" "$key=9223372036854775807"
  expect_code 2
  expect_err "$key"
  run run "$manifest" --out "$work/run-batch" "$key=9223372036854775807"
  expect_code 2
  expect_err "$key"
done
finish
