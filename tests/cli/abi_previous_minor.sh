# The previous-minor test (docs/plugin-guide.md, section 10): abi10 was compiled against the frozen SDK 1.0 headers
# (tests/abi/sdk-1.0/include); this host is SDK 1.2. It says ABI 1.0, loads, and trains, evaluates and scores a
# pipeline that reaches every hook, its components checking every Context answer (tests/abi/prev_minor_plugin.cpp).
# A "minor" change that was in fact a layout change fails here.
source "$(dirname "$0")/lib.bash"
work=$(mktemp -d)
trap 'rm -rf "$work" "$out" "$err"' EXIT
plugin="$FIXTURES/abi10/mmdebias-abi10.so"

run plugins --json --plugin-path "$plugin"
expect_code 0
python3 - "$out" <<'PY' || fail "abi10 is not listed as a loaded SDK ABI 1.0 plugin in a 1.1 host"
import json, sys
d = json.load(open(sys.argv[1]))
p = [x for x in d["plugins"] if x["name"] == "abi10"][0]
assert p["status"] == "loaded" and p["abi"] == "1.0" and p["sdk_version"] == "1.0.0", p
assert d["host"]["abi"] == "1.2", d["host"]
PY

run plugins --verify --plugin-path "$plugin"
expect_code 0
expect_out "loaded    abi10 1.0.0"

run run "$SRC/tests/abi/previous_minor.yaml" --plugin-path "$plugin" --out "$work/r"
expect_code 0
python3 - "$work/r/metrics.jsonl" <<'PY' || fail "a hook of the SDK 1.0 plugin was not reached"
import json, sys
seen = set()
for line in open(sys.argv[1]):
    d = json.loads(line)
    seen.update(k.split("/")[-1] for k in d.get("metrics", {}))
    seen.update(k.split("/")[-1] for k in d.get("components", {}))
hooks = {"observe_fused", "observe", "estimator_loss", "estimator_on_step_end", "on_batch", "on_features", "at_attention",
         "on_fused", "intervention_loss", "after_backward", "intervention_on_step_end", "predict", "score"}
missing = hooks - seen
assert not missing, f"not reached: {sorted(missing)}; seen {sorted(seen)}"
PY
grep -q '"abi10"' "$work/r/summary.json" 2>/dev/null || grep -q 'abi10' "$work/r/resolved.yaml" || fail "the run does not name abi10"
finish
