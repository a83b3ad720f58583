# `mmdebias validate` prints the resolved manifest, or every error with file:line:column and the nearest key (exit 2).
source "$(dirname "$0")/lib.bash"
bad=$(mktemp --suffix=.yaml)
trap 'rm -f "$bad" "$out" "$err"' EXIT
run validate "$SRC/examples/default.yaml"
expect_code 0
expect_out "layer_norm: false"
expect_out "provenance:"
expect_out "sha256:"
sed 's/hidden: \[64\], out_dim/hiden: [64], out_dim/' "$SRC/examples/default.yaml" >"$bad"
run validate "$bad" train.lrr=3
expect_code 2
expect_err "$bad:19:25: model.encoders.m0.hiden: unknown key 'hiden' in std.mlp options; did you mean 'hidden'?"
expect_err "$bad:20:25: model.encoders.m1.hiden"
expect_err "<override 'train.lrr=3'>: train.lrr: unknown key 'lrr' in train; did you mean 'lr'?"
run validate "$SRC/examples/default.yaml" train.lr=abc
expect_code 2
expect_err "train.lr"
run validate
expect_code 2
expect_err "a MANIFEST is required"
finish
