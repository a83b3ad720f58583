# `mmdebias plugins --verify` loads each plugin in a child process: a plugin that segfaults or hangs while
# registering is reported (crashed with its signal; timed out) and the parent survives; text and JSON.
source "$(dirname "$0")/lib.bash"
unset MMDEBIAS_PLUGIN_PATH
# Under AddressSanitizer (scripts/sanitize) the fixture's SIGSEGV must kill the process, as in a normal
# build, not become an ASan report and exit 1: what is checked here is that the signal is seen and named.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}handle_segv=0"
crash="$FIXTURES/fixture_crash/mmdebias-fixture_crash.so"
hang="$FIXTURES/fixture_hang/mmdebias-fixture_hang.so"

# The shipped plugins alone all load: exit 0, one line per file and a tally.
run plugins --verify
expect_code 0
expect_out "loaded    std 0.1.0"
expect_out "0 refused, 0 crashed, 0 timed out, 0 failed"

# A crashing plugin next to good ones: reported with its signal and its own last words; the others still load.
run plugins --verify --plugin-path "$crash" --plugin-path "$FIXTURES/fixture"
expect_code 2
expect_out "crashed   fixture_crash 0.0.1  $crash"
expect_out "killed by SIGSEGV (Segmentation fault) while registering its components"
expect_out "stderr: fixture_crash: about to crash"
expect_out "loaded    fixture 0.0.1"
expect_out "loaded    std 0.1.0"
expect_err "$crash: crashed:"
# Without --verify the same search path kills the host: that is what --verify is for.
run plugins --plugin-path "$crash"
[[ $code -ne 0 && $code -ne 2 ]] || fail "plain 'plugins' survived a crashing plugin (exit $code); the fixture does not crash"

# A hanging plugin is killed at the timeout (8 s: every other plugin must load within it on a loaded CI machine;
# times MMDEBIAS_TEST_TIME_SCALE, which scripts/sanitize sets: an ASan host starts several times slower);
# a refused one keeps its handshake reason; twins (two files of one plugin name) are both refused, naming both.
timeout=$((8 * ${MMDEBIAS_TEST_TIME_SCALE:-1}))
run plugins --verify --json --timeout "$timeout" --plugin-path "$hang" --plugin-path "$FIXTURES/fixture_abi_major" \
  --plugin-path "$crash" --plugin-path "$FIXTURES/twin_a" --plugin-path "$FIXTURES/twin_b"
expect_code 2
python3 - "$out" "$crash" "$timeout" <<'PY' || fail "JSON report is wrong"
import json, sys
d = json.load(open(sys.argv[1]))
by = {p["path"].split("/")[-1]: p for p in d["plugins"]}
assert d["ok"] is False and d["host"]["abi"] == "1.4", d
assert by["mmdebias-fixture_hang.so"]["status"] == "timed_out", by["mmdebias-fixture_hang.so"]
assert f"within {sys.argv[3]} s (stuck while registering" in by["mmdebias-fixture_hang.so"]["reason"]
assert by["mmdebias-fixture_abi_major.so"]["status"] == "refused"
assert "SDK ABI 2.4" in by["mmdebias-fixture_abi_major.so"]["reason"]
c = by["mmdebias-fixture_crash.so"]
assert c["status"] == "crashed" and c["signal"] == "SIGSEGV" and c["path"] == sys.argv[2], c
for twin in ("mmdebias-twin_a.so", "mmdebias-twin_b.so"):
    assert by[twin]["status"] == "refused" and by[twin]["name"] == "twin", by[twin]
    assert "plugin 'twin' is provided by 2 files on the search path" in by[twin]["reason"], by[twin]
std = by["mmdebias-std.so"]
assert std["status"] == "loaded" and any(x["name"] == "std.concat" for x in std["components"]), std
PY

run plugins --verify --timeout 0
expect_code 2
expect_err "--timeout must be a positive number of seconds"
finish
