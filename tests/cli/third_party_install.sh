# The third-party path, end to end: `cmake --install` this build tree into a temporary prefix; build the two
# out-of-tree example plugins the install ships (share/mmdebias/examples/plugins) and a `new-plugin` skeleton against
# that prefix only (CMAKE_PREFIX_PATH; the source tree is not on any path) and pass their own tests, unit tests
# included; install them into the prefix, where the skeleton's tests still pass (its file is chosen over the installed
# copy), and train with them through the INSTALLED host, which finds them with no path set: OGM-GE on 2 ranks with
# run.check_replicas equals 1 rank.
source "$(dirname "$0")/lib.bash"
unset MMDEBIAS_PLUGIN_PATH
work=$(mktemp -d)
trap 'rm -rf "$work" "$out" "$err"' EXIT
prefix="$work/prefix"
host="$prefix/bin/mmdebias"
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)

cmake --install "$BUILD" --prefix "$prefix" >"$out" 2>"$err" || fail "cmake --install failed"
for f in bin/mmdebias lib/mmdebias/plugins/mmdebias-std.so include/mmdebias/sdk/sdk.hpp include/mmdebias/sdk/testing.hpp \
         share/mmdebias/examples/default.yaml share/mmdebias/examples/plugins/ogm/ogm.hpp \
         share/mmdebias/examples/plugins/dropout/CMakeLists.txt share/doc/mmdebias/README.md \
         share/doc/mmdebias/docs/plugin-guide.md lib/cmake/mmdebias_sdk/mmdebias_sdkConfig.cmake lib/cmake/mmdebias_sdk/mmdebias_sdkConfigVersion.cmake \
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

build() {  # build SRC DIR: configure against the prefix only (no build type: the project's default), build, run its tests
  cmake -S "$1" -B "$2" "${generator[@]}" -DCMAKE_PREFIX_PATH="$prefix" >"$2.log" 2>&1 &&
    cmake --build "$2" >>"$2.log" 2>&1 && (cd "$2" && ctest --output-on-failure) >>"$2.log" 2>&1
}
examples="$prefix/share/mmdebias/examples/plugins"  # built where they are installed: the install is all they need
build "$examples/ogm" "$work/ogm-build" & ogm_pid=$!
build "$work/tmpl" "$work/tmpl-build" & tmpl_pid=$!
wait $ogm_pid || { cat "$work/ogm-build.log"; fail "the OGM-GE example did not build or pass its tests"; }
wait $tmpl_pid || { cat "$work/tmpl-build.log"; fail "the new-plugin skeleton did not build or pass its tests"; }
build "$examples/dropout" "$work/example-build" || { cat "$work/example-build.log"; fail "the dropout example did not build or pass its tests"; }
grep -q "mmdebias_sdk_DIR:PATH=$prefix/lib/cmake/mmdebias_sdk" "$work/example-build/CMakeCache.txt" ||
  fail "the example did not find the SDK in the prefix"
for b in ogm tmpl; do  # Release by default, and real unit tests ran (doctest cases through ctest)
  grep -q "CMAKE_BUILD_TYPE:STRING=Release" "$work/$b-build/CMakeCache.txt" || fail "$b was not built Release by default"
  units=$(grep -c "Test *#[0-9]*: $b\.unit\..*Passed" "$work/$b-build.log" || true)
  [[ $units -ge 3 ]] || { cat "$work/$b-build.log"; fail "$b's unit tests did not run through ctest ($units passed)"; }
done

# Installed next to the host, the skeleton's own tests still pass: its build's file is chosen over the installed copy.
cmake --install "$work/tmpl-build" --prefix "$prefix" >"$out" 2>"$err" || fail "installing the skeleton failed"
(cd "$work/tmpl-build" && ctest --output-on-failure) >"$work/tmpl-again.log" 2>&1 ||
  { cat "$work/tmpl-again.log"; fail "the skeleton's tests fail once it is installed"; }

# Installed into the prefix, the plugin is found by the installed host with no path.
cmake --install "$work/example-build" --prefix "$prefix" >"$out" 2>"$err" || fail "installing the example failed"
cmake --install "$work/ogm-build" --prefix "$prefix" >"$out" 2>"$err" || fail "installing the OGM-GE example failed"
[[ -f "$prefix/lib/mmdebias/plugins/mmdebias-dropout.so" ]] || fail "the example was not installed where the host searches"
# Built with the package's flags: the entry symbol is its only export (hidden visibility + version script).
exports=$(nm -D --defined-only "$prefix/lib/mmdebias/plugins/mmdebias-dropout.so" | awk '{print $3}')
[[ "$exports" == "mmdebias_plugin_v1" ]] || fail "the example exports more than its entry symbol: $exports"
MMDEBIAS="$host" run plugins
expect_code 0
expect_out "dropout 0.1.0  [loaded]"
expect_out "dropout.modality  (intervention)"
MMDEBIAS="$host" run run "$examples/dropout/dropout-gaussian.yaml" --out "$work/run" train.log_every=1
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

# OGM-GE through the installed host on 2 ranks x 32 with the replica check on equals 1 rank x 64 (rank-shared noise).
MMDEBIAS="$host" two_ranks "$work/ogm2" "$examples/ogm/ogm-gaussian.yaml" train.epochs=1 train.batch_size=32 \
  run.threads=1 run.check_replicas=true
MMDEBIAS="$host" run run "$examples/ogm/ogm-gaussian.yaml" --out "$work/ogm1" train.epochs=1 run.threads=1 train.log_every=1
expect_code 0
expect_params_close "$work/ogm2" "$work/ogm1" "OGM-GE on 2 ranks x 32 and 1 rank x 64"
python3 - "$work/ogm1" <<'PY' || fail "OGM-GE did not log its ratio, or the clean modality m0 did not dominate"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl") if '"train"' in l]
ratios = [r["metrics"]["interventions.ogm/ratio"] for r in rows if "interventions.ogm/ratio" in r.get("metrics", {})]
assert ratios and ratios[-1] > 1, ratios
PY
finish
