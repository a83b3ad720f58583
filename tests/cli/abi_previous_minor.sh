# The previous-minor test (docs/plugin-guide.md, section 10): abi10 to abi13 were compiled against the frozen SDK
# 1.0 to 1.3 headers (tests/abi/sdk-1.<minor>/include); this host is SDK 1.4. Each says its ABI,
# loads, and trains, evaluates and scores a pipeline that reaches every hook, its components checking every Context
# answer (tests/abi/prev_minor_plugin.cpp; abi11 also records 1.1's tensor metrics). A "minor" change that was in fact
# a layout change fails here.
source "$(dirname "$0")/lib.bash"
work=$(mktemp -d)
trap 'rm -rf "$work" "$out" "$err"' EXIT

for minor in 0 1 2 3; do
  name=abi1$minor
  plugin="$FIXTURES/$name/mmdebias-$name.so"
  run plugins --json --plugin-path "$plugin"
  expect_code 0
  python3 - "$out" "$name" "$minor" <<'PY' || fail "$name is not listed as a loaded SDK ABI 1.$minor plugin in a 1.4 host"
import json, sys
d = json.load(open(sys.argv[1]))
name, minor = sys.argv[2], sys.argv[3]
p = [x for x in d["plugins"] if x["name"] == name][0]
assert p["status"] == "loaded" and p["abi"] == f"1.{minor}" and p["sdk_version"] == f"1.{minor}.0", p
assert d["host"]["abi"] == "1.4", d["host"]
PY

  run plugins --verify --plugin-path "$plugin"
  expect_code 0
  expect_out "loaded    $name 1.$minor.0"

  sed "s/abi10\./$name./g" "$SRC/tests/abi/previous_minor.yaml" >"$work/$name.yaml"
  run run "$work/$name.yaml" --plugin-path "$plugin" --out "$work/$name"
  expect_code 0
  python3 - "$work/$name/metrics.jsonl" "$minor" <<'PY' || fail "a hook of the SDK 1.$minor plugin was not reached"
import json, sys
seen = set()
for line in open(sys.argv[1]):
    d = json.loads(line)
    seen.update(k.split("/")[-1] for k in d.get("metrics", {}))
    seen.update(k.split("/")[-1] for k in d.get("components", {}))
hooks = {"observe_fused", "observe", "estimator_loss", "estimator_on_step_end", "on_batch", "on_features", "at_attention",
         "on_fused", "intervention_loss", "after_backward", "intervention_on_step_end", "predict", "score"}
if sys.argv[2] != "0":
    hooks |= {h + "_tensor" for h in hooks}
missing = hooks - seen
assert not missing, f"not reached: {sorted(missing)}; seen {sorted(seen)}"
PY
  grep -q "\"$name\"" "$work/$name/summary.json" 2>/dev/null || grep -q "$name" "$work/$name/resolved.yaml" || fail "the run does not name $name"
done
finish
