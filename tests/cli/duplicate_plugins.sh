# Two files providing one plugin name (say a user's build and its installed copy) are an error in every command
# that loads plugins, naming both files and how to choose, whether or not the manifest uses the plugin; a file
# given directly with --plugin-path is chosen and the other skipped (not opened when its file name says so);
# `plugins --verify FILE` verifies that file alone.
source "$(dirname "$0")/lib.bash"
unset MMDEBIAS_PLUGIN_PATH
work=$(mktemp -d)
trap 'rm -rf "$work" "$out" "$err"' EXIT
tiny="$SRC/tests/runs/tiny.yaml"

# A run to evaluate, made before there is a duplicate; the shipped std's path as the host reports it.
run run "$tiny" --out "$work/r" train.steps=2
expect_code 0
run plugins --json
installed=$(python3 -c 'import json,sys; print([p["path"] for p in json.load(open(sys.argv[1]))["plugins"] if p["name"] == "std"][0])' "$out")
mkdir "$work/mine"
cp "$installed" "$work/mine/"
copy="$work/mine/mmdebias-std.so"
both="plugin 'std' is provided by 2 files on the search path: $copy and $installed"
how="name the one to use as a file with --plugin-path PATH/mmdebias-std.so, or remove the other from the search path"

# 1. The directory on the path: every command refuses, naming both files.
for command in run validate eval describe demo plugins verify; do
  case $command in
    run) args=(run "$tiny" --out "$work/r2" train.steps=2) ;;
    validate) args=(validate "$tiny") ;;
    eval) args=(eval "$work/r") ;;
    describe) args=(describe std.concat) ;;
    demo) args=(demo --out "$work/demo") ;;
    plugins) args=(plugins) ;;
    verify) args=(plugins --verify) ;;
  esac
  run "${args[@]}" --plugin-path "$work/mine"
  [[ $code -eq 2 ]] || fail "${args[*]}: expected exit 2, got $code"
  grep -qF -- "$both; $how" "$err" || fail "${args[*]}: stderr lacks: $both; $how"
done
[[ ! -e "$work/r2" && ! -e "$work/demo" ]] || fail "a refused run left a directory behind"
# The listing still lists both files, each saying why; the error is said once.
run plugins --plugin-path "$work/mine"
[[ $(grep -cF "reason:      $both" "$out") -eq 2 ]] || fail "the listing does not give the reason on both files"
[[ $(wc -l <"$err") -eq 1 ]] || fail "the error is not said once"
run plugins --verify --json --plugin-path "$work/mine"
python3 - "$out" "$copy" "$installed" <<'PY' || fail "the --verify JSON does not refuse both files"
import json, sys
d = json.load(open(sys.argv[1]))
by = {p["path"]: p for p in d["plugins"]}
assert d["ok"] is False
for f in sys.argv[2:]:
    assert by[f]["status"] == "refused" and "plugin 'std' is provided by 2 files" in by[f]["reason"], by[f]
PY

# 2. Also when the manifest does not use the plugin: the rule is about the search path.
mkdir "$work/f1" "$work/f2"
cp "$FIXTURES/fixture/mmdebias-fixture.so" "$work/f1/"
cp "$FIXTURES/fixture/mmdebias-fixture.so" "$work/f2/"
run validate "$tiny" --plugin-path "$work/f1" --plugin-path "$work/f2"
expect_code 2
expect_err "plugin 'fixture' is provided by 2 files on the search path: $work/f1/mmdebias-fixture.so and $work/f2/mmdebias-fixture.so"

# 3. The file given directly is chosen; the installed copy is skipped, never opened, and no error.
run validate "$tiny" --plugin-path "$copy"
expect_code 0
expect_err "note: $installed skipped: plugin 'std' is taken from $copy given with --plugin-path (a file of the same name; this one was not opened)"
grep -qF "$installed" "$out" && fail "validate's resolved manifest names the skipped file"
expect_out "{path: $copy, sha256: "
run plugins --plugin-path "$copy"
expect_code 0
expect_out "[skipped]"
expect_out "reason:      skipped: plugin 'std' is taken from $copy given with --plugin-path"
run plugins --json --plugin-path "$copy"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); s=[p for p in d["plugins"] if p["path"]==sys.argv[2]][0]; assert s["status"]=="skipped", s' \
  "$out" "$installed" || fail "the JSON listing does not say skipped"
run plugins --verify --plugin-path "$copy"
expect_code 0
expect_out "skipped   $installed"
run run "$tiny" --plugin-path "$copy" --out "$work/r3" train.steps=2
expect_code 0
grep -qF "note: $installed skipped: plugin 'std' is taken from $copy" "$work/r3/log.txt" || fail "log.txt does not note the skipped file"
grep -qF "$installed" "$work/r3/resolved.yaml" && fail "resolved.yaml names the skipped file"
grep -qF "{path: $copy, sha256: " "$work/r3/resolved.yaml" || fail "resolved.yaml does not list the chosen file"
# Another file name, the same plugin: opened to learn its name, then skipped (not registered), still no error.
run plugins --plugin-path "$FIXTURES/twin_a" --plugin-path "$FIXTURES/twin_b/mmdebias-twin_b.so"
expect_code 0
expect_out "twin 0.0.1  [skipped]"
expect_out "reason:      skipped: plugin 'twin' is taken from $FIXTURES/twin_b/mmdebias-twin_b.so given with --plugin-path"
# Two files given directly stay an error.
run validate "$tiny" --plugin-path "$copy" --plugin-path "$installed"
expect_code 2
expect_err "$copy and $installed are all given with --plugin-path: give only one of them"

# 4. `plugins --verify FILE...`: those files alone, not the search path (the installed std is not looked at).
run plugins --verify "$copy"
expect_code 0
expect_out "loaded    std 0.1.0  $copy"
expect_out "1 file(s): 1 loaded"
run plugins --verify --json "$copy" "$FIXTURES/fixture/mmdebias-fixture.so"
expect_code 0
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["plugins"]) == 2 and d["ok"], d' "$out" || fail "--verify FILE FILE"
run plugins --verify "$work/mine/nope.so" "$work/mine"
expect_code 2
expect_err "$work/mine/nope.so is not a plugin file (a file named mmdebias-<name>.so)"
expect_err "$work/mine is not a plugin file"
run plugins --verify "$copy" --plugin-path "$work/mine"
expect_code 2
expect_err "give plugin files or --plugin-path, not both"
run plugins "$copy"
expect_code 2
expect_err "go with --verify"
finish
