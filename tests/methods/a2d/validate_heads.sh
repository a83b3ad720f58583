# The validator and A2D's need for separate modality heads (MultiOOD's classifiers of their own): the a2d tests'
# manifest (std.concat, modality_heads: separate) validates; with shared heads, asked for or by default, each of
# a2d.disagree and a2d.npmix is refused at its own file:line, the message naming the fusion; std.late and std.gated
# with separate heads validate, with shared ones not; a value that is not a choice is refused at its key's line.
source "$SRC/tests/cli/lib.bash"
manifest="$SRC/tests/methods/a2d/npmix.yaml"
bad=$(mktemp --suffix=.yaml)
trap 'rm -f "$bad" "$out" "$err"' EXIT
line_of() { grep -n -- "$1" "$2" | head -1 | cut -d: -f1; }

run validate "$manifest"
expect_code 0
expect_out "modality_heads: separate"

for heads in "{type: std.concat, modality_heads: shared}" "{type: std.concat}"; do
  sed "s/fusion: {type: std.concat, modality_heads: separate}/fusion: $heads/" "$manifest" >"$bad"
  run validate "$bad"
  expect_code 2
  for type in a2d.disagree a2d.npmix; do
    expect_err "$bad:$(line_of "$type" "$bad"):"
    expect_err "$type needs 'independent_modality_heads', which no other component of this manifest provides; the fusion std.concat gives per-modality logits from parameters of its fused head, and $type needs each modality's logits from a classifier of its own"
  done
done

for type in std.late std.gated; do
  sed "s/type: std.concat, modality_heads: separate/type: $type, modality_heads: separate/" "$manifest" >"$bad"
  run validate "$bad"
  expect_code 0
  sed "s/type: std.concat, modality_heads: separate/type: $type, modality_heads: shared/" "$manifest" >"$bad"
  run validate "$bad"
  expect_code 2
  expect_err "the fusion $type gives per-modality logits from parameters of its fused head"
done

sed "s/modality_heads: separate/modality_heads: both/" "$manifest" >"$bad"
run validate "$bad"
expect_code 2
expect_err "$bad:$(line_of "modality_heads" "$bad"):"
expect_err "model.fusion.modality_heads"
finish
