# One writer per run directory, and nothing lost or overwritten (issue 22): a second `run`, a `run --resume`,
# an `eval` and a 2-rank run on a directory that a run is writing are refused at once (exit 2) naming its PID
# and host, and the first run completes; a SIGKILLed run leaves no stale lock; a non-empty --out that is not a
# run (a hand-written manifest.yaml) and a finished run are refused and left untouched, and --force moves aside
# what a run would overwrite; a symlinked checkpoints/ is refused and its target untouched; run.name cannot
# leave run.out or be too long; a start killed at any point of its setup is restartable, never "not a run
# directory" nor refused as foreign.
source "$(dirname "$0")/lib.bash"
work=$(mktemp -d)
trap 'kill $slow 2>/dev/null; rm -rf "$work" "$out" "$err"' EXIT
manifest="$SRC/tests/runs/tiny.yaml"
host=$(hostname)
slow=
cases=0
digest() { (cd "$1" && find . -type f ! -name .mmdebias-lock -print0 | sort -z | xargs -0 sha256sum); }
wait_for() {  # wait_for FILE: until it exists (at most 30 s)
  for _ in $(seq 1 3000); do [[ -e $1 ]] && return 0; sleep 0.01; done
  fail "$1 never appeared"
}

# 1-4. A run writing $work/busy (slowed: each checkpoint write pauses, ~30 s in all: margin on a loaded machine) is not joined by anyone.
MMDEBIAS_TEST_CHECKPOINT_PAUSE_MS=300 "$MMDEBIAS" run "$manifest" --out "$work/busy" >"$work/busy.out" 2>"$work/busy.err" &
slow=$!
wait_for "$work/busy/checkpoints/latest"
holder="pid $slow on host $host (mmdebias run, since"
cases=$((cases + 1))
start=$(date +%s%N)
run run "$manifest" --out "$work/busy"
expect_code 2
expect_err "$work/busy is in use by another mmdebias process: $holder"
echo "a second run was refused after $(( ($(date +%s%N) - start) / 1000000 )) ms"
cases=$((cases + 1))
run run --resume "$work/busy"
expect_code 2
expect_err "is in use by another mmdebias process: $holder"
cases=$((cases + 1))
run eval "$work/busy"
expect_code 2
expect_err "is in use by another mmdebias process: $holder"
[[ ! -e "$work/busy/eval-test.json" ]] || fail "eval wrote into a directory a run is writing"
# 2 ranks: rank 0 is refused, rank 1 (which does not lock) exits with rank 0's message, at once, not at the timeout.
cases=$((cases + 1))
start_two_ranks "$work/two" run "$manifest" --out "$work/busy" run.dist_timeout=60
wait "${pids[0]}"; code0=$?
wait "${pids[1]}"; code1=$?
[[ $code0 -eq 2 && $code1 -eq 2 ]] || { cat "$work"/two.rank*.err; fail "2 ranks on a busy directory exited $code0 and $code1, not 2 and 2"; }
grep -qF "is in use by another mmdebias process: $holder" "$work/two.rank0.err" || fail "rank 0 did not name the holder: $(cat "$work/two.rank0.err")"
grep -qF "rank 0 could not prepare the run directory: $work/busy is in use" "$work/two.rank1.err" || fail "rank 1 did not say why: $(cat "$work/two.rank1.err")"
kill -0 $slow 2>/dev/null || fail "the first run ended before the checks were done: they tested nothing"
wait $slow; code=$?
slow=
[[ $code -eq 0 && -f "$work/busy/summary.json" ]] || { cat "$work/busy.err"; fail "the first run did not complete (exit $code)"; }
[[ $(grep -c '\] run .*: 256 steps' "$work/busy/log.txt") -eq 1 ]] || fail "log.txt shows another start: $(grep '\] run ' "$work/busy/log.txt")"

# 5. SIGKILL leaves no stale lock: the killed run is refused to a new run (with --resume offered) and resumes.
cases=$((cases + 1))
MMDEBIAS_TEST_CHECKPOINT_PAUSE_MS=150 "$MMDEBIAS" run "$manifest" --out "$work/killed" >/dev/null 2>&1 &
slow=$!
wait_for "$work/killed/checkpoints/latest"
kill -9 $slow; wait $slow 2>/dev/null; slow=
run run "$manifest" --out "$work/killed"
expect_code 2
expect_err "$work/killed already holds a run (its latest checkpoint is ckpt-"
expect_err "continue it with \`mmdebias run --resume $work/killed\`"
run run --resume "$work/killed"
expect_code 0
expect_out "params_sha256"

# 6. A finished run is not overwritten, even with its checkpoints/ deleted.
cases=$((cases + 1))
run run "$manifest" --out "$work/busy"
expect_code 2
expect_err "$work/busy holds a finished run ($work/busy/summary.json); choose another --out, or pass --force"
rm -rf "$work/busy/checkpoints"
before=$(digest "$work/busy")
run run "$manifest" --out "$work/busy"
expect_code 2
expect_err "holds a finished run"
[[ "$(digest "$work/busy")" == "$before" ]] || fail "the refused run changed the finished run's files"

# 7. `--out .` in a folder with a hand-written manifest.yaml: refused and left exactly as it was (no lock file).
cases=$((cases + 1))
mkdir "$work/mine"
cp "$manifest" "$work/mine/manifest.yaml"
echo "my notes" >"$work/mine/notes.txt"
(cd "$work/mine" && "$MMDEBIAS" run manifest.yaml --out . >"$out" 2>"$err"); code=$?
expect_code 2
expect_err "--out . is not empty and is not an mmdebias run directory (it holds manifest.yaml, notes.txt)"
expect_err "pass --force to run there anyway (manifest.yaml would be moved to ./replaced-<time>/, nothing is deleted"
[[ "$(ls -A "$work/mine" | tr '\n' ' ')" == "manifest.yaml notes.txt " ]] || fail "the refused directory changed: $(ls -A "$work/mine")"
cmp -s "$manifest" "$work/mine/manifest.yaml" || fail "the hand-written manifest.yaml changed"

# 8. ... accepted with --force: manifest.yaml is moved to replaced-<time>/ unchanged, notes.txt stays as it is.
cases=$((cases + 1))
(cd "$work/mine" && "$MMDEBIAS" run manifest.yaml --out . --force >"$out" 2>"$err"); code=$?
expect_code 0
expect_err "--force: moved the files a run writes that were in . to ./replaced-"
aside=$(ls -d "$work"/mine/replaced-*)
cmp -s "$manifest" "$aside/manifest.yaml" || fail "the hand-written manifest.yaml was not kept in $aside"
[[ "$(cat "$work/mine/notes.txt")" == "my notes" && -f "$work/mine/summary.json" && -f "$work/mine/.mmdebias-run" ]] ||
  fail "after --force: $(ls -A "$work/mine")"
# --force on a finished run: the old run goes to replaced-<time>/ whole (and still evaluates there).
old_summary=$(digest "$work/mine" | grep ' ./summary.json$' | cut -d' ' -f1)
run run "$manifest" --out "$work/mine" --force
expect_code 0
[[ $(ls -d "$work"/mine/replaced-* | wc -l) -eq 2 ]] || fail "the finished run was not moved aside: $(ls -A "$work/mine")"
newest=$(ls -d "$work"/mine/replaced-* | sort | tail -n 1)
[[ "$(sha256sum "$newest/summary.json" | cut -d' ' -f1)" == "$old_summary" && -f "$newest/checkpoints/latest" ]] ||
  fail "the finished run moved aside is incomplete: $(ls -A "$newest")"
run run --resume "$work/mine" --force
expect_code 2
expect_err "--force starts a new run; it does not go with --resume"

# 9. checkpoints/ a symlink: resume and eval of a run, and a new start over a run that died early, refuse it;
# the files in its target (a temp file the start-up would remove, a checkpoint pruning would delete) stay.
cases=$((cases + 1))
cp -r "$work/killed" "$work/linked"
mv "$work/linked/checkpoints" "$work/target"
ln -s "$work/target" "$work/linked/checkpoints"
echo junk >"$work/target/ckpt-000000001.pt.tmp-999"
cp "$work/target/$(cat "$work/target/latest")" "$work/target/ckpt-000000000.pt"
target_before=$(digest "$work/target")
for args in "run --resume $work/linked" "eval $work/linked"; do
  run $args
  expect_code 2
  expect_err "$work/linked/checkpoints is a symbolic link (to $work/target): runs delete and replace files in checkpoints/"
done
mkdir "$work/early" "$work/target2"
touch "$work/early/.mmdebias-run"
echo junk >"$work/target2/ckpt-000000010.pt.tmp-999"
ln -s "$work/target2" "$work/early/checkpoints"
run run "$manifest" --out "$work/early"
expect_code 2
expect_err "$work/early/checkpoints is a symbolic link"
[[ "$(digest "$work/target")" == "$target_before" && -f "$work/target2/ckpt-000000010.pt.tmp-999" ]] ||
  fail "files in a symlink's target changed"

# 10-11. run.name may not leave run.out, nor be longer than a file name allows; the key is named.
cases=$((cases + 2))
run run "$manifest" run.out="$work/names/deep" run.name=../../x
expect_code 2
expect_err "run.name: '../../x' holds '/': it must be a plain name, not a path"
[[ -z "$(ls -A "$work/names" 2>/dev/null)" && ! -e "$work/x" ]] || fail "a directory was made: $(ls -R "$work/names" "$work/x" 2>&1)"
run run "$manifest" run.out="$work/names" run.name="$(printf 'n%.0s' $(seq 300))"
expect_code 2
expect_err "is 300 bytes long; at most 200 are allowed"
expect_err "run.name: 'nnnn"

# 12-15. A start killed during setup is restartable: --resume says there is no run yet (never "not a run
# directory"), and the same `run --out` starts it without --force. Killed: (a) with only the lock taken (an
# existing empty --out is locked before the pipeline is built), (b) as the marker appears, (c) in the first
# checkpoint write, (d) what an older mmdebias killed in setup left (checkpoints/ alone), and (e) in the write
# of resolved.yaml.
# restart_ok DIR: --resume refuses with the command to start again; that start succeeds.
restart_ok() {
  run run --resume "$1"
  expect_code 2
  grep -q "not a run directory" "$err" && fail "--resume of $1 said 'not a run directory'"
  grep -qE "holds no run yet|nothing to resume in $1: it has no checkpoint yet; start it again" "$err" || fail "--resume of $1: unexpected message"
  local again=$manifest
  [[ -f "$1/manifest.yaml" ]] && again=$1/manifest.yaml  # what the message offers
  run run "$again" --out "$1"
  expect_code 0
  [[ -f "$1/summary.json" ]] || fail "the restart in $1 did not finish"
  [[ -z "$(find "$1" -name '*.tmp-*')" ]] || fail "temp files left in $1: $(find "$1" -name '*.tmp-*')"
}
cases=$((cases + 1))
mkdir "$work/setup-a"
"$MMDEBIAS" run "$manifest" --out "$work/setup-a" >/dev/null 2>&1 &
slow=$!
wait_for "$work/setup-a/.mmdebias-lock"
kill -9 $slow; wait $slow 2>/dev/null; slow=
[[ ! -e "$work/setup-a/manifest.yaml" ]] || fail "(a) was killed too late to test a kill during setup"
restart_ok "$work/setup-a"
cases=$((cases + 1))
# The first checkpoint write is held (2 s a stage) so the kill lands before any checkpoint exists even when
# this machine is loaded: unheld, a 256-step run can finish between the marker and the kill.
MMDEBIAS_TEST_CHECKPOINT_PAUSE_MS=2000 "$MMDEBIAS" run "$manifest" --out "$work/setup-b" >/dev/null 2>&1 &
slow=$!
wait_for "$work/setup-b/.mmdebias-run"
kill -9 $slow; wait $slow 2>/dev/null; slow=
echo "(b) killed with: $(ls -A "$work/setup-b" | tr '\n' ' ')"
[[ ! -e "$work/setup-b/checkpoints/latest" ]] || fail "(b) was killed after its first checkpoint: it tested nothing"
restart_ok "$work/setup-b"
cases=$((cases + 1))
MMDEBIAS_TEST_CHECKPOINT_PAUSE_MS=3000 "$MMDEBIAS" run "$manifest" --out "$work/setup-c" >/dev/null 2>&1 &
slow=$!
for _ in $(seq 1 3000); do compgen -G "$work/setup-c/checkpoints/*.tmp-*" >/dev/null && break; sleep 0.01; done
kill -9 $slow; wait $slow 2>/dev/null; slow=
[[ ! -e "$work/setup-c/checkpoints/latest" ]] || fail "(c) was killed after its first checkpoint"
restart_ok "$work/setup-c"
cases=$((cases + 1))
mkdir -p "$work/setup-d/checkpoints"
restart_ok "$work/setup-d"
# (e) Killed while writing a file of the run's own (what (b) hits when the kill lands in resolved.yaml's
# write): the restart removes that half-written file and leaves a user's file of the same shape alone.
cases=$((cases + 1))
mkdir "$work/setup-e"
touch "$work/setup-e/.mmdebias-run"
echo half >"$work/setup-e/resolved.yaml.tmp-999"
echo mine >"$work/setup-e/notes.txt.tmp-1"
run run "$manifest" --out "$work/setup-e"
expect_code 0
[[ ! -e "$work/setup-e/resolved.yaml.tmp-999" ]] || fail "(e) the half-written resolved.yaml.tmp-999 was left"
[[ "$(cat "$work/setup-e/notes.txt.tmp-1")" == mine ]] || fail "(e) a file that is not the run's was touched"

echo "$cases cases"
finish
