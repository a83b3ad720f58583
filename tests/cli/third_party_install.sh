# The third-party path, end to end: `cmake --install` this build tree into a temporary prefix, build the
# out-of-tree example and a `new-plugin` skeleton from clean directories against that prefix only
# (CMAKE_PREFIX_PATH; the source tree is not on any path), pass their own tests, install the example into
# the prefix, and train a manifest with it through the INSTALLED host, which finds it with no path set.
source "$(dirname "$0")/lib.bash"
unset MMDEBIAS_PLUGIN_PATH
work=$(mktemp -d)
trap 'rm -rf "$work" "$out" "$err"' EXIT
prefix="$work/prefix"
host="$prefix/bin/mmdebias"
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)

cmake --install "$BUILD" --prefix "$prefix" >"$out" 2>"$err" || fail "cmake --install failed"
for f in bin/mmdebias lib/mmdebias/plugins/mmdebias-std.so include/mmdebias/sdk/sdk.hpp \
         lib/cmake/mmdebias_sdk/mmdebias_sdkConfig.cmake lib/cmake/mmdebias_sdk/mmdebias_sdkConfigVersion.cmake \
         lib/cmake/mmdebias_sdk/mmdebiasPlugin.cmake lib/cmake/mmdebias_sdk/plugin.map; do
  [[ -e "$prefix/$f" ]] || fail "not installed: $f"
done
# Test fixtures are never installed.
compgen -G "$prefix/lib/mmdebias/plugins/mmdebias-fixture*" >/dev/null && fail "a test fixture was installed"

# A skeleton from the installed host; configured and built alongside the example (two builds, two cores).
MMDEBIAS="$host" run new-plugin tmpl "$work/tmpl"
expect_code 0
expect_out "cmake -S $work/tmpl"
MMDEBIAS="$host" run new-plugin tmpl "$work/tmpl"
expect_code 2
expect_err "exists and is not empty"
MMDEBIAS="$host" run new-plugin Bad-Name "$work/bad"
expect_code 2
expect_err "must be a lower-case identifier"

build() {  # build SRC DIR: configure against the prefix only, build, run the project's own tests
  cmake -S "$1" -B "$2" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" >"$2.log" 2>&1 &&
    cmake --build "$2" >>"$2.log" 2>&1 && (cd "$2" && ctest --output-on-failure) >>"$2.log" 2>&1
}
cp -r "$SRC/examples/third_party_plugin" "$work/example"  # built from a copy: nothing resolves into $SRC
build "$work/example" "$work/example-build" & example_pid=$!
build "$work/tmpl" "$work/tmpl-build" & tmpl_pid=$!
wait $example_pid || { cat "$work/example-build.log"; fail "the example did not build or pass its tests"; }
wait $tmpl_pid || { cat "$work/tmpl-build.log"; fail "the new-plugin skeleton did not build or pass its tests"; }
grep -q "mmdebias_sdk_DIR:PATH=$prefix/lib/cmake/mmdebias_sdk" "$work/example-build/CMakeCache.txt" ||
  fail "the example did not find the SDK in the prefix"

# Installed into the prefix, the plugin is found by the installed host with no path.
cmake --install "$work/example-build" --prefix "$prefix" >"$out" 2>"$err" || fail "installing the example failed"
[[ -f "$prefix/lib/mmdebias/plugins/mmdebias-dropout.so" ]] || fail "the example was not installed where the host searches"
# Built with the package's flags: the entry symbol is its only export (hidden visibility + version script).
exports=$(nm -D --defined-only "$prefix/lib/mmdebias/plugins/mmdebias-dropout.so" | awk '{print $3}')
[[ "$exports" == "mmdebias_plugin_v1" ]] || fail "the example exports more than its entry symbol: $exports"
MMDEBIAS="$host" run plugins
expect_code 0
expect_out "dropout 0.1.0  [loaded]"
expect_out "dropout.modality  (intervention)"
MMDEBIAS="$host" run run "$work/example/dropout-gaussian.yaml" --out "$work/run" train.log_every=1
expect_code 0
expect_out "evaluation on 'test'"
python3 - "$work/run" <<'PY' || fail "the run did not train with dropout.modality"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl")]
train = [r for r in rows if r.get("type") == "train"]
assert len(train) >= 10, len(train)
dropped = [r["metrics"]["interventions.modality/dropped"] for r in train]
assert 0.1 < sum(dropped) / len(dropped) < 0.5, dropped  # p = 0.3
assert train[-1]["loss"] < train[0]["loss"], (train[0]["loss"], train[-1]["loss"])
s = json.load(open(sys.argv[1] + "/summary.json"))
assert s["eval"]["classification"]["accuracy"] > 0.4, s["eval"]
PY
MMDEBIAS="$host" run plugins --verify --json
expect_code 0
finish
