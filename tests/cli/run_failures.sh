# Failures while running end with exit 1 and a message naming what failed, never a crash or lost work:
# a non-finite loss names the step and the term and keeps the last good checkpoint; an exception in a
# plugin's hook names the plugin, the component and the hook.
source "$(dirname "$0")/lib.bash"
work=$(mktemp -d)
trap 'rm -rf "$work" "$out" "$err"' EXIT
manifest="$SRC/tests/runs/tiny.yaml"
fixture="$FIXTURES/fixture"

run run "$manifest" --plugin-path "$fixture" --out "$work/nan" 'interventions=[{type: fixture.poison, at_step: 25}]'
expect_code 1
expect_err "step 25: the loss is not finite (term 'poison/poison' = nan)"
expect_err "the last good checkpoint is kept"
[[ "$(cat "$work/nan/checkpoints/latest")" == "ckpt-000000020.pt" ]] || fail "latest checkpoint is $(cat "$work/nan/checkpoints/latest")"
[[ ! -f "$work/nan/summary.json" ]] || fail "a failed run wrote summary.json"
# The kept checkpoint still resumes (and fails again at the same step, as it should).
run run --resume "$work/nan" --plugin-path "$fixture"
expect_code 1
expect_err "step 25: the loss is not finite"

run run "$manifest" --plugin-path "$fixture" --out "$work/throw" 'interventions=[{type: fixture.thrower, what: c10}]'
expect_code 1
expect_err "plugin 'fixture', component interventions.thrower (fixture.thrower), hook loss: deliberate torch check"

run run "$SRC/tests/runs/does-not-exist.yaml"
expect_code 2
expect_err "does-not-exist.yaml"
finish
