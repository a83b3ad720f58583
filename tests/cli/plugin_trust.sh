# What a manifest, or a run directory received from someone else, can make the host open (issue 22). The evil
# fixture is a library whose constructor leaves a marker file the moment it is opened: an absent marker proves
# a refusal came before any of its code ran. Cases: a file not named mmdebias-*.so; --trusted-plugins-only; a
# wrong or malformed pin; an uppercase pin; every opened library in resolved.yaml and log.txt; relative
# plugins.paths written absolute, so that --resume opens the same file; an edited manifest.yaml refused by eval
# and --resume before loading; a library that calls _exit(0) or exit(0) while loading.
source "$(dirname "$0")/lib.bash"
unset MMDEBIAS_PLUGIN_PATH
work=$(mktemp -d)
trap 'rm -rf "$work" "$out" "$err"' EXIT
export MMDEBIAS_EVIL_MARKER="$work/marker"
opened() { [[ -e "$MMDEBIAS_EVIL_MARKER" ]]; }
expect_not_opened() { ! opened || fail "$1: the evil library was opened (its constructor ran)"; rm -f "$MMDEBIAS_EVIL_MARKER"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
# run_in DIR ARGS...: run, from DIR.
run_in() { local dir=$1; shift; (cd "$dir" && run "$@"; echo "$code" >"$work/code"); code=$(cat "$work/code"); }
zeros=0000000000000000000000000000000000000000000000000000000000000000
cases=0

# A project: its manifest (tiny.yaml plus a plugins section) with a plugin directory beside it; the evil library
# elsewhere, under its own name and under a plugin's name.
mkdir -p "$work/proj/plugins" "$work/evil" "$work/elsewhere"
cp "$FIXTURES/evil/evil.so" "$work/evil/notaplugin.so"
cp "$FIXTURES/evil/evil.so" "$work/evil/mmdebias-evil.so"
cp "$FIXTURES/fixture/mmdebias-fixture.so" "$work/proj/plugins/"
evil="$work/evil/mmdebias-evil.so"
fixture="$work/proj/plugins/mmdebias-fixture.so"
# project NAME LINES...: $work/proj/NAME.yaml, tiny.yaml followed by the lines (indented under `plugins:`).
project() {
  local file="$work/proj/$1.yaml"; shift
  { cat "$SRC/tests/runs/tiny.yaml"; echo "plugins:"; printf '  %s\n' "$@"; } >"$file"
  echo "$file"
}
uses_fixture='interventions=[{type: fixture.thrower, from_step: 1000000}]'  # never throws; needs the fixture plugin

# 1. The issue's manifest: a file that is no plugin, named by a relative path. Refused naming it, never opened.
cases=$((cases + 1))
m=$(project notaplugin "paths: [../evil/notaplugin.so]")
for command in validate run; do
  args=("$m")
  [[ $command == run ]] && args+=(--out "$work/r1" train.steps=1)
  run "$command" "${args[@]}"
  expect_code 2
  expect_err "refused $work/evil/notaplugin.so: plugin files are named mmdebias-<name>.so, this one is not (it was not opened)"
  expect_not_opened "$command with notaplugin.so in plugins.paths"
done
run plugins --verify --plugin-path "$work/evil/notaplugin.so"
expect_code 2
expect_out "refused   $work/evil/notaplugin.so"
expect_not_opened "plugins --verify with notaplugin.so"

# 2. --trusted-plugins-only: a manifest's plugins.paths are not searched. Without it the library is opened (and
# then refused: it has no entry symbol), and resolved output lists it as opened, not loaded.
cases=$((cases + 1))
m=$(project evil_dir "paths: [../evil]")
run validate "$m"
expect_code 0
expect_out "{path: $evil, sha256: $(sha "$evil"), loaded: false}"
opened || fail "without --trusted-plugins-only the evil library in plugins.paths was not opened: the case proves nothing"
rm -f "$MMDEBIAS_EVIL_MARKER"
run validate --trusted-plugins-only "$m"
expect_code 0
expect_not_opened "validate --trusted-plugins-only"
run run --trusted-plugins-only "$m" --out "$work/r2" train.steps=1
expect_code 0
expect_not_opened "run --trusted-plugins-only"
# A pipeline that needs a plugin from the manifest's paths says why it is missing; --plugin-path brings it in.
m=$(project needs_fixture "paths: [plugins]")
run validate --trusted-plugins-only "$m" "$uses_fixture"
expect_code 2
expect_err "unknown intervention type 'fixture.thrower'"
expect_err "note: not searched: $work/proj/plugins (the manifest's plugins.paths) under --trusted-plugins-only"
run validate --trusted-plugins-only --plugin-path "$work/proj/plugins" "$m" "$uses_fixture"
expect_code 0

# 3. A pin that does not match refuses the file before it is opened; a malformed pin refuses everything, located.
cases=$((cases + 1))
m=$(project wrong_pin "paths: [../evil]" "sha256: {evil: $zeros}")
for command in validate run; do
  args=("$m")
  [[ $command == run ]] && args+=(--out "$work/r3" train.steps=1)
  run "$command" "${args[@]}"
  expect_code 2
  expect_err "refused $evil: its sha256 is $(sha "$evil"), plugins.sha256.evil pins $zeros (it was not opened)"
  expect_not_opened "$command with a wrong pin"
done
m=$(project bad_pin "paths: [../evil]" "sha256: {evil: abc}")
run validate "$m"
expect_code 2
expect_err "bad_pin.yaml:$(($(wc -l <"$SRC/tests/runs/tiny.yaml") + 3)):18: plugins.sha256.evil: expected a SHA-256 digest (64 hex digits), got 'abc' (read before any plugin is loaded; none was)"
expect_not_opened "validate with a malformed pin"

# 4. A correct pin in uppercase hex is accepted (and written lowercase into the resolved manifest).
cases=$((cases + 1))
m=$(project pinned "paths: [plugins]" "sha256: {fixture: $(sha "$fixture" | tr a-f A-F)}")
run validate "$m" "$uses_fixture"
expect_code 0
expect_out "fixture: $(sha "$fixture")"

# 5. Every opened library, with its sha256, in resolved.yaml and log.txt (the evil one too: its code ran); the
# run's manifest.yaml holds plugins.paths absolute. Run from another directory.
cases=$((cases + 1))
run_in "$work/elsewhere" run ../proj/pinned.yaml --plugin-path "$work/evil" --out "$work/r5" train.steps=2 "$uses_fixture"
expect_code 0
rm -f "$MMDEBIAS_EVIL_MARKER"
std="$BUILD/lib/mmdebias/plugins/mmdebias-std.so"
for entry in "$fixture $(sha "$fixture") true" "$evil $(sha "$evil") false" "$std $(sha "$std") true"; do
  read -r path digest loaded <<<"$entry"
  grep -qF "{path: $path, sha256: $digest, loaded: $loaded}" "$work/r5/resolved.yaml" || fail "resolved.yaml lacks $path"
  grep -qF "library $path sha256 $digest" "$work/r5/log.txt" || fail "log.txt lacks $path"
done
grep -qF "paths: [$work/proj/plugins]" "$work/r5/manifest.yaml" || fail "manifest.yaml does not hold plugins.paths absolute"

# 6. --resume, from yet another directory, opens the same plugin file (relative paths once resolved against the
# run directory, where there is none).
cases=$((cases + 1))
run_in / run --resume "$work/r5" train.steps=4
expect_code 0
[[ $(grep -cF "library $fixture sha256 $(sha "$fixture")" "$work/r5/log.txt") -eq 2 ]] || fail "--resume did not open $fixture"

# 7. A run directory whose manifest.yaml was edited to name the evil library: eval and --resume refuse it before
# loading anything. Unedited, the same directory evaluates (with the plugin brought in by hand when trusted only).
cases=$((cases + 1))
cp "$work/r5/manifest.yaml" "$work/manifest.orig"
sed -i "s|^  paths: \[$work/proj/plugins\]\$|  paths: [$work/proj/plugins, $work/evil]|" "$work/r5/manifest.yaml"
grep -qF "paths: [$work/proj/plugins, $work/evil]" "$work/r5/manifest.yaml" || fail "could not edit manifest.yaml"
run eval "$work/r5"
expect_code 2
expect_err "cannot evaluate $work/r5: $work/r5/manifest.yaml differs from the config ckpt-000000004.pt recorded (was it edited?); no plugin was loaded:"
expect_err "plugins.paths.1: (absent) ->"
expect_not_opened "eval of an edited run directory"
run run --resume "$work/r5"
expect_code 2
expect_err "cannot resume $work/r5: $work/r5/manifest.yaml differs from the config ckpt-000000004.pt recorded"
expect_not_opened "--resume of an edited run directory"
cp "$work/manifest.orig" "$work/r5/manifest.yaml"
run eval --trusted-plugins-only --plugin-path "$work/proj/plugins" "$work/r5"
expect_code 0

# 8. A library that ends the process while it loads: not exit 0 with nothing written, but exit 2 naming it.
cases=$((cases + 1))
for how in _exit exit; do
  MMDEBIAS_EVIL_EXIT=$how run run "$SRC/tests/runs/tiny.yaml" --plugin-path "$work/evil" --out "$work/r8-$how" train.steps=1
  expect_code 2
  expect_err "mmdebias: plugin code called $how() while loading $evil (its initialisation or registration)"
done
rm -f "$MMDEBIAS_EVIL_MARKER"

echo "plugin trust cases tried: $cases"
finish
