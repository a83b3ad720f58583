# SIGTERM during setup, where there is no step boundary to stop at soon: a plugin that hangs while loading,
# or a rank whose peers never come. Setup gets a deadline (MMDEBIAS_SETUP_STOP_SECONDS, 10 s by default;
# 2 s here) after the first signal, then the process exits 143 naming what was running (it used to wait
# forever). A setup that finishes in time still stops at the first step with its checkpoint.
source "$(dirname "$0")/lib.bash"
work=$(mktemp -d)
trap 'rm -rf "$work" "$out" "$err"' EXIT
manifest="$SRC/tests/runs/tiny.yaml"
hang_dir="$FIXTURES/fixture_hang"

# term_when CONDITION ARGS...: runs the host in the background with ARGS, SIGTERM once CONDITION (a command)
# holds; sets code, out, err and how long it took from the signal to the exit (ms, in $took).
term_when() {
  local condition=$1; shift
  env MMDEBIAS_SETUP_STOP_SECONDS=2 "$@" >"$out" 2>"$err" &
  local pid=$! sent i
  for ((i = 0; i < 1200; i++)); do eval "$condition" && break; sleep 0.05; done
  sent=$(date +%s%3N)
  kill -TERM "$pid"
  wait "$pid"; code=$?
  took=$(($(date +%s%3N) - sent))
}

term_when '[[ -s $work/marker ]]' MMDEBIAS_FIXTURE_MARKER="$work/marker" MMDEBIAS_PLUGIN_PATH="$hang_dir" "$MMDEBIAS" run "$manifest" --out "$work/hang"
expect_code 143
expect_err "SIGTERM received during setup: stopping at the first step, or in 2 s if setup has not finished by then"
expect_err "setup did not finish within 2 s of SIGTERM: exiting while loading plugin $hang_dir/mmdebias-fixture_hang.so"
[[ $took -lt 10000 ]] || fail "exiting took $took ms after SIGTERM"

port=$(free_port)
term_when 'ss -Hltn "sport = :$port" | grep -q .' MASTER_ADDR=127.0.0.1 MASTER_PORT=$port WORLD_SIZE=2 RANK=0 LOCAL_RANK=0 LOCAL_WORLD_SIZE=2 \
  "$MMDEBIAS" run "$manifest" --out "$work/alone" run.dist_timeout=600
expect_code 143
expect_err "exiting while waiting for the other ranks (rank 0 of 2, at 127.0.0.1:$port)"
[[ $took -lt 10000 ]] || fail "exiting took $took ms after SIGTERM"
finish
