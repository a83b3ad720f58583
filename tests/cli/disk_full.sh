# A full disk or an unwritable run directory: a clear error (exit 2) before training where it can be
# detected; where it cannot (the disk fills later), a failed write stops the run (exit 1) and leaves the
# previous checkpoint and the latest pointer intact, no temp file, and a run that resumes to the same
# parameters as an uninterrupted one. The disk is "filled" by an LD_PRELOAD shim (tests/fixtures/
# disk_full_shim.cpp); unwritable directories are tried as a non-root user (setpriv when root, as CI is).
source "$(dirname "$0")/lib.bash"
unset MMDEBIAS_PLUGIN_PATH
# Under AddressSanitizer (scripts/sanitize) the shim is preloaded ahead of the ASan runtime; allow that.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
work=$(mktemp -d)
trap 'chmod -R u+w "$work"; rm -rf "$work" "$out" "$err"' EXIT
chmod 755 "$work"  # the unprivileged user below must reach it
manifest="$SRC/tests/runs/tiny.yaml"
shim="$FIXTURES/disk_full_shim.so"
[[ -f "$shim" ]] || fail "no shim at $shim"
cases=0

# The reference: an uninterrupted run's parameters.
run run "$manifest" --out "$work/reference"
expect_code 0
reference=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["params_sha256"])' "$work/reference/summary.json")

# as_user CMD...: runs CMD as an unprivileged user: itself when not root, nobody (via setpriv) when root.
as_user() {
  # Sanitizer reports of nobody's process go to its stderr: it may not write scripts/sanitize's log directory.
  if [[ $(id -u) -eq 0 ]]; then
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=stderr" UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=stderr" \
      setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"
  else
    "$@"
  fi
}
run_as_user() { as_user "$MMDEBIAS" "$@" >"$out" 2>"$err"; code=$?; }

# 1. --out under a directory the user may not write: refused before training, exit 2.
cases=$((cases + 1))
mkdir -p "$work/locked"
chmod 555 "$work/locked"
run_as_user run "$manifest" --out "$work/locked/run"
expect_code 2
expect_err "cannot create the run directory $work/locked/run: Permission denied; choose another --out or fix its permissions"
[[ ! -e "$work/locked/run" ]] || fail "a run directory was made in a locked directory"

# 2. --out an existing directory the user may not write.
cases=$((cases + 1))
run_as_user run "$manifest" --out "$work/locked"
expect_code 2
expect_err "the run directory $work/locked is not writable: cannot create a file in it (Permission denied)"

# 3. A run directory whose checkpoints/ exists but where no file may be created: the write probe catches it.
cases=$((cases + 1))
mkdir -p "$work/probe/checkpoints"
chmod 555 "$work/probe"
run_as_user run "$manifest" --out "$work/probe"
expect_code 2
expect_err "the run directory $work/probe is not writable: cannot create a file in it (Permission denied)"
[[ -z "$(ls -A "$work/probe/checkpoints")" ]] || fail "files were written into the unwritable run directory"

# 4. --resume of a run directory that is no longer writable.
cases=$((cases + 1))
cp -r "$work/reference" "$work/frozen"
chmod -R a-w "$work/frozen"
chmod 755 "$work/frozen"
chmod 555 "$work/frozen"
run_as_user run --resume "$work/frozen"
expect_code 2
expect_err "the run directory $work/frozen is not writable: cannot create a file in it (Permission denied)"

# 5. --out below a regular file (not a directory): no root trick needed, so this runs as whoever runs the test.
cases=$((cases + 1))
touch "$work/plain"
run run "$manifest" --out "$work/plain/run"
expect_code 2
expect_err "cannot create the run directory $work/plain/run: Not a directory"

# 6. Too little free space for the checkpoints the run keeps: refused before training, naming the directory,
# the bytes needed and the bytes free.
cases=$((cases + 1))
LD_PRELOAD="$shim" MMDEBIAS_SHIM_FREE_BYTES=1048576 run run "$manifest" --out "$work/small"
expect_code 2
expect_err "not enough free space for the run in $work/small: it needs about"
expect_err "3 checkpoint(s) of about"
expect_err "and its filesystem has 1.0 MiB (1048576 bytes) free; free some space or choose another --out"
[[ ! -e "$work/small/checkpoints/latest" ]] || fail "training started without the space for it"

# 7. The same for --resume (it keeps two checkpoints already: it adds one at most).
cases=$((cases + 1))
cp -r "$work/reference" "$work/resume-small"
LD_PRELOAD="$shim" MMDEBIAS_SHIM_FREE_BYTES=1048576 run run --resume "$work/resume-small"
expect_code 2
expect_err "not enough free space for the run in $work/resume-small: it needs about"
expect_err "1 checkpoint(s) of about"

# 8-12. The disk fills during the run: the write, fsync or rename of the checkpoint of step 40 fails (ENOSPC
# or EIO). Exit 1 naming the step and the file; ckpt-30 is still the latest and verifies; no temp file and no
# half-made ckpt-40 is left; once space is back, --resume finishes with the uninterrupted run's parameters.
# check_interrupted DIR: the state a failed checkpoint write must leave.
check_interrupted() {
  local dir=$1 c
  expect_code 1
  expect_err "the checkpoint of step 40 was not saved:"
  expect_err "the previous checkpoint $dir/checkpoints/ckpt-000000030.pt is intact and still the latest"
  expect_err "then continue with \`mmdebias run --resume $dir\`"
  expect_checkpoints_intact "$dir" ckpt-000000030.pt
  [[ -z "$(find "$dir" -name '*.tmp-*')" ]] || fail "temp files left: $(find "$dir" -name '*.tmp-*')"
  [[ ! -e "$dir/checkpoints/ckpt-000000040.pt" && ! -e "$dir/checkpoints/ckpt-000000040.pt.sha256" ]] ||
    fail "a half-made checkpoint of step 40 was left"
  [[ ! -e "$dir/summary.json" ]] || fail "a failed run wrote summary.json"
}
# resume_matches DIR: the resumed run ends with the reference's parameters (no data lost).
resume_matches() {
  run run --resume "$1"
  expect_code 0
  expect_err "resumed $1/checkpoints/ckpt-000000030.pt at step 30"
  local got
  got=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["params_sha256"])' "$1/summary.json")
  [[ "$got" == "$reference" ]] || fail "$1 resumed to params $got, the uninterrupted run has $reference"
}
for spec in "write ckpt-000000040.pt. ENOSPC 5000 No space left on device" \
            "write ckpt-000000040.pt. EIO 0 Input/output error" \
            "fsync ckpt-000000040.pt.tmp ENOSPC 0 No space left on device" \
            "fsync ckpt-000000040.pt.sha256 ENOSPC 0 No space left on device" \
            "rename ckpt-000000040.pt EIO 0 Input/output error"; do
  read -r call pattern errno after text <<<"$spec"
  cases=$((cases + 1))
  dir="$work/fill-$cases"
  rm -f "$work/shim.log"
  LD_PRELOAD="$shim" MMDEBIAS_SHIM_FAIL=$call MMDEBIAS_SHIM_PATH=$pattern MMDEBIAS_SHIM_ERRNO=$errno MMDEBIAS_SHIM_AFTER=$after \
    MMDEBIAS_SHIM_LOG="$work/shim.log" run run "$manifest" --out "$dir"
  grep -q "^fail " "$work/shim.log" 2>/dev/null || fail "$spec: the shim injected no failure"
  expect_err "$text"
  check_interrupted "$dir"
  resume_matches "$dir"
done

# 13. metrics.jsonl cannot be appended to: exit 1 naming the file, not a crash or a silently short log.
cases=$((cases + 1))
LD_PRELOAD="$shim" MMDEBIAS_SHIM_PATH=metrics.jsonl MMDEBIAS_SHIM_AFTER=2000 run run "$manifest" --out "$work/metrics"
expect_code 1
expect_err "cannot append to $work/metrics/metrics.jsonl: No space left on device; the run stopped, its last checkpoint is intact"

# 14. summary.json cannot be written at the end: exit 1; the final checkpoint is saved and --resume writes it.
cases=$((cases + 1))
LD_PRELOAD="$shim" MMDEBIAS_SHIM_PATH=summary.json run run "$manifest" --out "$work/summary"
expect_code 1
expect_err "cannot write $work/summary/summary.json.tmp-"
expect_err "training finished and its last checkpoint is saved"
run run --resume "$work/summary"
expect_code 0
got=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["params_sha256"])' "$work/summary/summary.json")
[[ "$got" == "$reference" ]] || fail "the summary written on resume has params $got, expected $reference"

echo "disk cases tried: $cases"
finish
