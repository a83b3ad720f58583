# The validator refuses ARL where it cannot work, before any compute, with messages that say why: a fusion
# without per-modality heads (std.cross_attention gives none) and arl.reweight without arl.uncertainty (whose
# weights it reads); the example manifest validates.
source "$SRC/tests/cli/lib.bash"
bad=$(mktemp --suffix=.yaml)
trap 'rm -f "$bad" "$out" "$err"' EXIT
run validate "$SRC/examples/arl-gaussian.yaml"
expect_code 0
expect_out "arl.uncertainty"
expect_out "gamma: 4"

sed 's/fusion: {type: std.concat}.*/fusion: {type: std.cross_attention}/' "$SRC/examples/arl-gaussian.yaml" >"$bad"
run validate "$bad"
expect_code 2
expect_err "estimators.0: arl.uncertainty needs 'modality_logits', which no other component of this manifest provides; registered components that provide it: std.concat"
expect_err "interventions.0: arl.reweight needs 'modality_logits', which no other component of this manifest provides"

sed '/^estimators:/,/clamp: 0.3/d' "$SRC/examples/arl-gaussian.yaml" >"$bad"
run validate "$bad"
expect_code 2
expect_err "arl.reweight needs 'arl.weights', which no other component of this manifest provides; registered components that provide it: arl.uncertainty"

sed 's/gamma: 4.0/gamma: -1/' "$SRC/examples/arl-gaussian.yaml" >"$bad"
run validate "$bad"
expect_code 2
expect_err "interventions.0.gamma"
finish
