# Shared helpers for the CLI tests (sourced; not a test itself). Each test runs the built host ($MMDEBIAS).
set -uo pipefail
failures=0
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT

# run ARGS...: runs the host, keeping stdout, stderr and the exit code.
run() { "$MMDEBIAS" "$@" >"$out" 2>"$err"; code=$?; }
fail() { echo "FAIL: $*"; echo "--- stdout"; cat "$out"; echo "--- stderr"; cat "$err"; failures=$((failures + 1)); }
expect_code() { [[ $code -eq $1 ]] || fail "expected exit $1, got $code"; }
expect_out() { grep -qF -- "$1" "$out" || fail "stdout lacks: $1"; }
expect_err() { grep -qF -- "$1" "$err" || fail "stderr lacks: $1"; }
finish() { [[ $failures -eq 0 ]] && echo "ok" || { echo "$failures failure(s)"; exit 1; }; }
