# The short crash-and-resume torture (scripts/torture --kills 6): SIGKILL, SIGTERM and SIGINT each at a
# random step and in the middle of a checkpoint write, resumed each time; the run must end with the
# uninterrupted run's params_sha256 and a metrics.jsonl without gaps or repeats. The seed is random and
# printed: `scripts/torture --kills 6 --seed S` repeats a failure.
source "$(dirname "$0")/lib.bash"
"$SRC/scripts/torture" --kills 6 >"$out" 2>"$err" || fail "scripts/torture --kills 6 failed"
cat "$out"
expect_out "params_sha256 equal: yes"
expect_out "failures 0"
finish
