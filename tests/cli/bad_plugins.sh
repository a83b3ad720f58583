# Bad plugins, each handled with a clear message and the right exit code, in plugins, plugins --verify,
# validate and run: a registration that throws (std and not), factories that throw or return null, a hook
# that throws mid-training (earlier checkpoints stay valid), a plugin that segfaults while loading, and
# hand-written entry symbols with garbage fields.
source "$(dirname "$0")/lib.bash"
unset MMDEBIAS_PLUGIN_PATH
# Under AddressSanitizer (scripts/sanitize) the crashing fixture must die of its SIGSEGV, as in a normal build.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}handle_segv=0"
work=$(mktemp -d)
trap 'rm -rf "$work" "$out" "$err"' EXIT
manifest="$SRC/tests/runs/tiny.yaml"
fixture="$FIXTURES/fixture"
fixture_so="$fixture/mmdebias-fixture.so"
cases=0

# 1-2. The registration throws a std::exception, or an int: refused naming the file, exit 2, never terminate.
for how in std other; do
  cases=$((cases + 1))
  message=$([[ $how == std ]] && echo "deliberate registration failure" || echo "unknown exception")
  MMDEBIAS_FIXTURE_REGISTER_THROW=$how run plugins --plugin-path "$fixture"
  expect_code 2
  expect_err "refused $fixture_so (plugin 'fixture'): its registration failed: $message"
  MMDEBIAS_FIXTURE_REGISTER_THROW=$how run plugins --verify --plugin-path "$fixture"
  expect_code 2
  expect_out "refused   fixture"
  # A manifest that needs the refused plugin: the unknown type, with the refusal as a note.
  MMDEBIAS_FIXTURE_REGISTER_THROW=$how run validate "$manifest" --plugin-path "$fixture" 'interventions=[{type: fixture.thrower}]'
  expect_code 2
  expect_err "unknown intervention type 'fixture.thrower' (no plugin 'fixture' is loaded)"
  expect_err "note: refused $fixture_so (plugin 'fixture'): its registration failed: $message"
  MMDEBIAS_FIXTURE_REGISTER_THROW=$how run run "$manifest" --plugin-path "$fixture" --out "$work/reg-$how" 'interventions=[{type: fixture.thrower}]'
  expect_code 2
  expect_err "note: refused $fixture_so (plugin 'fixture'): its registration failed: $message"
done

# 3-6. Factories that throw (std, int) or return null: refused at build naming plugin, instance and type; exit 2.
for what in std other nothing; do
  cases=$((cases + 1))
  case $what in
    std) message="deliberate factory failure" ;;
    other) message="unknown exception (not derived from std::exception)" ;;
    nothing) message="the factory returned null" ;;
  esac
  for command in validate run; do
    args=("$manifest" --plugin-path "$fixture" "interventions=[{type: fixture.bad_factory, what: $what}]")
    [[ $command == run ]] && args+=(--out "$work/factory-$what")
    run "$command" "${args[@]}"
    expect_code 2
    expect_err "interventions.0: cannot construct fixture.bad_factory: plugin 'fixture', component interventions.bad_factory (fixture.bad_factory), hook construct: $message"
  done
  [[ ! -e "$work/factory-$what/checkpoints" ]] || fail "a pipeline that could not be built made a run directory"
done
cases=$((cases + 1))
run validate "$manifest" --plugin-path "$fixture" 'model.encoders.m0={type: fixture.null_encoder}'
expect_code 2
expect_err "model.encoders.m0: cannot construct fixture.null_encoder: plugin 'fixture', component encoders.m0 (fixture.null_encoder), hook construct: the factory returned null"

# 7-8. A hook throws mid-training (std, int): exit 1 naming the step, plugin, instance and hook; the
# checkpoints written before stay valid and the run resumes from them.
for what in std other; do
  cases=$((cases + 1))
  dir="$work/hook-$what"
  run run "$manifest" --plugin-path "$fixture" --out "$dir" "interventions=[{type: fixture.thrower, what: $what, from_step: 35}]"
  expect_code 1
  expect_err "training stopped after step 34: plugin 'fixture', component interventions.thrower (fixture.thrower), hook loss:"
  expect_err "the last checkpoint $dir/checkpoints/ckpt-000000030.pt is intact"
  expect_checkpoints_intact "$dir" ckpt-000000030.pt
done
run run --resume "$work/hook-std" --plugin-path "$fixture"
expect_code 1
expect_err "resumed $work/hook-std/checkpoints/ckpt-000000030.pt at step 30"
expect_err "training stopped after step 34"

# 9. A plugin that segfaults while loading: --verify reports it and goes on; a host loading it in-process
# dies of the signal, but first names the file and points at --verify.
cases=$((cases + 1))
crash="$FIXTURES/fixture_crash/mmdebias-fixture_crash.so"
run plugins --verify --plugin-path "$crash" --plugin-path "$fixture"
expect_code 2
expect_out "crashed   fixture_crash 0.0.1  $crash"
expect_out "loaded    fixture 0.0.1"
for command in validate run; do
  args=("$manifest" --plugin-path "$crash")
  [[ $command == run ]] && args+=(--out "$work/crash")
  run "$command" "${args[@]}" 2>/dev/null  # bash's own "Segmentation fault" line
  [[ $code -eq 139 ]] || fail "$command with a segfaulting plugin: expected death by SIGSEGV (139), got $code"
  expect_err "mmdebias: fatal signal SIGSEGV in plugin code while loading $crash (its initialisation or registration)."
  expect_err "\`mmdebias plugins --verify\` loads every plugin in a child process of its own"
done

# 10-20. Entry symbols with garbage fields: each refused in one line naming the file, exit 2, no code run.
declare -A entry=(
  [null_info]="its entry symbol mmdebias_plugin_v1 returned null"
  [short_struct]="its plugin info is 8 bytes, smaller than the"
  [huge_abi]="built against SDK ABI 4294967295.4294967295, this host has SDK ABI 1.4"
  [unterminated_name]="its plugin name is longer than 64 characters; the entry symbol is corrupt"
  [control_name]="its plugin name holds control characters"
  [path_name]="plugin name '../evil' may hold only letters, digits, '_' and '-'"
  [null_version]="its plugin info has no version (null pointer)"
  [null_compiler]="its plugin info has no compiler (null pointer)"
  [null_register]="its plugin info has no registration function"
  [raw_throw]="its registration failed: an exception not derived from std::exception escaped its registration function"
  [silent_failure]="its registration failed: it returned 7 and gave no message"
)
verify_args=()
for name in "${!entry[@]}"; do
  cases=$((cases + 1))
  so="$FIXTURES/entry_$name/mmdebias-entry_$name.so"
  verify_args+=(--plugin-path "$so")
  run plugins --plugin-path "$so"
  expect_code 2
  expect_err "refused $so"
  expect_err "${entry[$name]}"
  [[ $(wc -l <"$err") -eq 1 ]] || fail "entry_$name: the refusal is not one line"
done
run plugins --verify --json "${verify_args[@]}"
expect_code 2
python3 - "$out" <<'PY' || fail "--verify did not report every garbage entry symbol as refused"
import json, sys
d = json.load(open(sys.argv[1]))
bad = [p for p in d["plugins"] if "entry_" in p["path"]]
assert len(bad) == 11, [p["path"] for p in bad]
assert all(p["status"] == "refused" and p["path"] in p["reason"] for p in bad), bad
PY
# The other plugins still load and a run that needs none of the garbage ones trains (one step suffices).
run run "$manifest" "${verify_args[@]}" --out "$work/beside-garbage" train.steps=1
expect_code 0

echo "bad-plugin cases tried: $cases"
finish
