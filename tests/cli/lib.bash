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
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# start_two_ranks PREFIX ARGS...: `mmdebias ARGS...` as 2 ranks on 127.0.0.1 (a free port) in the background,
# output in PREFIX.rank{0,1}.{out,err}; their PIDs in $pids.
start_two_ranks() {
  local prefix=$1 port r; shift
  port=$(free_port) pids=()
  for r in 0 1; do
    MASTER_ADDR=127.0.0.1 MASTER_PORT=$port WORLD_SIZE=2 RANK=$r LOCAL_RANK=$r LOCAL_WORLD_SIZE=2 \
      "$MMDEBIAS" "$@" >"$prefix.rank$r.out" 2>"$prefix.rank$r.err" &
    pids+=($!)
  done
}
# expect_params_close A B WHAT: the latest checkpoints of run directories A and B hold the same parameter names, each
# within 1e-5 (relative to B's largest entry); prints the largest difference. Reads them with Debian's PyTorch.
expect_params_close() {
  "$PYTHON" - "$1" "$2" <<'PY' || fail "$3: the parameters of $1 and $2 differ beyond 1e-5"
import sys, torch
def params(d):
    m = torch.jit.load(d + "/checkpoints/" + open(d + "/checkpoints/latest").read().strip())
    return dict(m.model.named_parameters())
a, b = params(sys.argv[1]), params(sys.argv[2])
assert a.keys() == b.keys() and len(a) > 0, (sorted(a), sorted(b))
worst = max(((a[k] - b[k]).abs().max() / b[k].abs().max().clamp_min(1e-12)).item() for k in a)
print(f"largest relative difference over {len(a)} parameters: {worst:.2e}")
assert worst < 1e-5, worst
PY
}

# two_ranks OUT ARGS...: `mmdebias run ARGS... --out OUT` as 2 data-parallel ranks on 127.0.0.1 (a free port),
# output in OUT.rank{0,1}.{out,err}; fails the test, showing their stderr, when either rank fails.
two_ranks() {
  local dest=$1 rc=0 p pids=(); shift  # pids local: start_two_ranks fills the caller's
  start_two_ranks "$dest" run "$@" --out "$dest"
  for p in "${pids[@]}"; do wait "$p" || rc=$?; done
  [[ $rc -eq 0 ]] || { cat "$dest".rank*.err; fail "the 2-rank run failed"; }
}

# expect_checkpoints_intact DIR NAME: DIR/checkpoints/latest names NAME and every checkpoint matches its sidecar.
expect_checkpoints_intact() {
  local dir=$1 name=$2 c
  [[ "$(cat "$dir/checkpoints/latest")" == "$name" ]] || fail "latest is $(cat "$dir/checkpoints/latest")"
  for c in "$dir"/checkpoints/ckpt-*.pt; do
    [[ "$(sha256sum "$c" | cut -d' ' -f1)" == "$(tr -d '[:space:]' <"$c.sha256")" ]] || fail "$c does not match its sidecar"
  done
}
