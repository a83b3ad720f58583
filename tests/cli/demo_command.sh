# `mmdebias demo` runs the embedded default manifest in under a minute and prints its summary table.
source "$(dirname "$0")/lib.bash"
work=$(mktemp -d)
trap 'rm -rf "$work" "$out" "$err"' EXIT
start=$(date +%s.%N)
run demo --out "$work/demo"
seconds=$(echo "$(date +%s.%N) - $start" | bc)
expect_code 0
expect_out "evaluation on 'test'"
expect_out "accuracy (m0 alone)"
expect_out "OOD scorer"
expect_out "params_sha256"
echo "demo took ${seconds}s"
(( $(echo "$seconds < 60" | bc) )) || fail "demo took ${seconds}s (limit 60)"
run demo --print-manifest
expect_code 0
cmp -s "$out" "$SRC/examples/default.yaml" || fail "the embedded manifest differs from examples/default.yaml"
finish
