# `mmdebias sweep` (issue 27): a 2-configuration x 5-seed sweep of examples/arl-gaussian.yaml (ARL's bias term
# gamma 4 against none, the baseline), 2 runs at once, run whole; the same sweep SIGKILLed mid-way (its runs
# checkpoint and stop) and started again ends with the same sweep.csv; sweep.json's means, intervals and paired
# differences equal scipy's from the runs' own summary.json; each run is an ordinary run directory; a stop by
# SIGTERM continues; the Slurm script's tasks and the aggregate work; bad grids are refused before any run.
source "$(dirname "$0")/lib.bash"
work=$(mktemp -d)
sweep_pid=
trap 'kill -9 $sweep_pid 2>/dev/null; rm -rf "$work" "$out" "$err"' EXIT
example="$SRC/examples/arl-gaussian.yaml"
small=(data.train_size=512 data.test_size=256 train.epochs=3 interventions.0.start=1 train.checkpoint_every=8)
grid=("$example" interventions.0.gamma=0,4 "${small[@]}" --seeds 0-4 --jobs 2 --baseline interventions.0.gamma=0)

# 1. Uninterrupted.
run sweep "${grid[@]}" --out "$work/whole"
expect_code 0
expect_out "[10/10] starting interventions.0.gamma=4 seed 4"  # seed by seed, the configurations of a seed together
expect_out "classification.accuracy  (mean ± std over seeds [95% interval]; paired difference vs the baseline)"
[[ $(find "$work/whole" -name summary.json | wc -l) -eq 10 ]] || fail "10 runs did not finish: $(find "$work/whole" -name summary.json)"
grep -q '^  threads: 1$' "$work/whole/interventions.0.gamma=4/seed-0/manifest.yaml" || fail "2 jobs on 2 cores: run.threads is not 1"

# 2. SIGKILLed after some runs finished and others are mid-way (checkpoint writes slowed so that they are), then
# started again: finished runs skipped, the rest resumed; the same sweep.csv, byte for byte.
MMDEBIAS_TEST_CHECKPOINT_PAUSE_MS=400 "$MMDEBIAS" sweep "${grid[@]}" --out "$work/killed" >"$work/killed.out" 2>&1 &
sweep_pid=$!
# mid_way: at least 3 runs finished and one whose latest checkpoint is its first (step 8 of 24): two slowed checkpoint
# writes are still ahead of it, so the kill reaches it mid-way even on a loaded machine. (A run caught at a later
# checkpoint may finish its last steps before the SIGTERM is seen, and then nothing is resumed.)
mid_way() {
  [[ $(find "$work/killed" -name summary.json 2>/dev/null | wc -l) -ge 3 ]] || return 1
  local d
  for d in "$work"/killed/*/seed-*/; do
    [[ ! -e $d/summary.json && $(cat "$d/checkpoints/latest" 2>/dev/null) == ckpt-000000008.pt ]] && return 0
  done
  return 1
}
for _ in $(seq 1 1200); do mid_way && break; sleep 0.05; done
kill -9 $sweep_pid; wait $sweep_pid 2>/dev/null; sweep_pid=
finished=$(find "$work/killed" -name summary.json | wc -l)
[[ $finished -ge 3 && $finished -lt 10 ]] || fail "the kill came at $finished finished runs, not between 3 and 9: $(cat "$work/killed.out")"
run sweep "${grid[@]}" --out "$work/killed"
expect_code 0
expect_out "runs already finished: skipped"
grep -q "resuming " "$out" || fail "no run was resumed: the kill tested nothing"
cmp "$work/whole/sweep.csv" "$work/killed/sweep.csv" || fail "sweep.csv differs after a kill and a restart: $(diff "$work/whole/sweep.csv" "$work/killed/sweep.csv")"
run sweep "${grid[@]}" --out "$work/killed"
expect_code 0
expect_out "10 of 10 runs already finished: skipped"

# 3. Every mean, std, 95% interval and paired difference against scipy, from each run's summary.json.
/usr/bin/python3 -I - "$work/whole" <<'PY' || fail "sweep.json disagrees with scipy"
import json, math, os, sys
import numpy as np
from scipy import stats
root = sys.argv[1]
sweep = json.load(open(os.path.join(root, "sweep.json")))
def acc(run_dir):
    return json.load(open(os.path.join(root, run_dir, "summary.json")))["eval"]["classification"]["accuracy"]
def check(summary, values, what):
    values = np.asarray(values, dtype=float)
    n = len(values)
    mean, std = values.mean(), values.std(ddof=1)
    low, high = stats.t.interval(0.95, n - 1, loc=mean, scale=stats.sem(values))
    assert summary["n"] == n, (what, summary["n"], n)
    for got, want, name in ((summary["mean"], mean, "mean"), (summary["std"], std, "std"), (summary["ci95"][0], low, "low"), (summary["ci95"][1], high, "high")):
        assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12), (what, name, got, want)
    assert summary["excludes_zero"] == (low > 0 or high < 0), what
by_name = {c["name"]: c for c in sweep["configs"]}
assert sweep["baseline"] == "interventions.0.gamma=0" and len(by_name) == 2, sweep["baseline"]
base = {r["seed"]: acc(r["dir"]) for r in by_name["interventions.0.gamma=0"]["runs"]}
arl = {r["seed"]: acc(r["dir"]) for r in by_name["interventions.0.gamma=4"]["runs"]}
assert sorted(base) == sorted(arl) == [0, 1, 2, 3, 4]
metric = "eval.classification.accuracy"
check(by_name["interventions.0.gamma=0"]["metrics"][metric], [base[s] for s in range(5)], "baseline")
check(by_name["interventions.0.gamma=4"]["metrics"][metric], [arl[s] for s in range(5)], "arl")
diffs = [arl[s] - base[s] for s in range(5)]
check(by_name["interventions.0.gamma=4"]["vs_baseline"][metric], diffs, "paired")
# The paired interval is the one-sample t interval of the differences (scipy's paired t-test agrees on its sign).
t = stats.ttest_rel([arl[s] for s in range(5)], [base[s] for s in range(5)])
excl = by_name["interventions.0.gamma=4"]["vs_baseline"][metric]["excludes_zero"]
assert excl == (t.pvalue < 0.05), (excl, t.pvalue)
assert "vs_baseline" not in by_name["interventions.0.gamma=0"]
print("sweep.json agrees with scipy; gamma 4 - gamma 0 accuracy:", np.mean(diffs), stats.t.interval(0.95, 4, loc=np.mean(diffs), scale=stats.sem(diffs)))
PY
grep -q '^interventions.0.gamma=4,4,eval.classification.accuracy,5,' "$work/whole/sweep.csv" || fail "sweep.csv lacks the accuracy row: $(head -3 "$work/whole/sweep.csv")"

# 4. A run of the sweep is an ordinary run directory.
run eval "$work/whole/interventions.0.gamma=4/seed-2"
expect_code 0
expect_out "accuracy"

# 5. SIGTERM: the running runs checkpoint and stop, the sweep exits 143; the same command finishes it.
tiny=("$SRC/tests/runs/tiny.yaml" train.lr=0.05,0.1 --seeds 0-1 --jobs 2)
MMDEBIAS_TEST_CHECKPOINT_PAUSE_MS=300 "$MMDEBIAS" sweep "${tiny[@]}" --out "$work/term" >"$work/term.out" 2>&1 &
sweep_pid=$!
wait_for_checkpoint() { for _ in $(seq 1 300); do compgen -G "$work/term/*/seed-*/checkpoints/latest" >/dev/null && return; sleep 0.1; done; fail "no checkpoint appeared"; }
wait_for_checkpoint
kill -TERM $sweep_pid; wait $sweep_pid; code=$?; sweep_pid=
[[ $code -eq 143 ]] || fail "a SIGTERMed sweep exited $code, not 143: $(cat "$work/term.out")"
grep -qE "stopped train.lr=0.(05|1) seed 0 \(checkpointed" "$work/term.out" || fail "the stop was not reported: $(cat "$work/term.out")"
run sweep "${tiny[@]}" --out "$work/term"
expect_code 0
[[ $(find "$work/term" -name summary.json | wc -l) -eq 4 ]] || fail "the continued sweep did not finish its 4 runs"

# 6. The Slurm job array: one task per run, then the plain command aggregates without running anything.
run sweep "$SRC/tests/runs/tiny.yaml" train.lr=0.05,0.1 --seeds 3 --out "$work/slurm" --print-slurm
expect_code 0
expect_out "#SBATCH --array=0-1"
cp "$out" "$work/slurm.sh"
for task in 0 1; do SLURM_ARRAY_TASK_ID=$task bash "$work/slurm.sh" >"$work/task$task.out" 2>&1 || fail "task $task failed: $(cat "$work/task$task.out")"; done
[[ ! -e "$work/slurm/sweep.json" ]] || fail "a task aggregated"
run sweep "$SRC/tests/runs/tiny.yaml" train.lr=0.05,0.1 --seeds 3 --out "$work/slurm"
expect_code 0
expect_out "2 of 2 runs already finished: skipped"
[[ -f "$work/slurm/sweep.json" ]] || fail "the plain command did not aggregate"

# 7. Arms: named sets of overrides, one axis (here crossed with a swept key); the baseline named by its arm.
cat >"$work/arms.yaml" <<'YAML'
plain: {}
no_clip: {train.grad_clip: 0, train.scheduler: none}
YAML
run sweep "$SRC/tests/runs/tiny.yaml" --arms "$work/arms.yaml" train.epochs=1,2 --seeds 0-1 --jobs 2 --baseline arm=plain,train.epochs=1 --out "$work/arms"
expect_code 0
grep -q "\[8/8\] starting arm=no_clip,train.epochs=2 seed 1" "$out" || fail "the arms grid is not 2 arms x 2 epochs x 2 seeds"
grep -q "scheduler: none" "$work/arms/arm=no_clip,train.epochs=2/seed-0/manifest.yaml" || fail "the arm's overrides did not reach its runs"
grep -q "scheduler: cosine" "$work/arms/arm=plain,train.epochs=2/seed-0/manifest.yaml" || fail "the plain arm is not the manifest as it is"
/usr/bin/python3 -I -c '
import json, sys
s = json.load(open(sys.argv[1]))
assert s["baseline"] == "arm=plain,train.epochs=1", s["baseline"]
names = [c["name"] for c in s["configs"]]
assert names == ["arm=plain,train.epochs=1", "arm=plain,train.epochs=2", "arm=no_clip,train.epochs=1", "arm=no_clip,train.epochs=2"], names
assert s["configs"][3]["overrides"] == {"arm": "no_clip", "train.epochs": "2"}, s["configs"][3]["overrides"]
assert all("vs_baseline" in c for c in s["configs"][1:])
' "$work/arms/sweep.json" || fail "sweep.json of the arms grid"
echo "no_clip: {train.grad_clip: 1}" >"$work/arms2.yaml"
run sweep "$SRC/tests/runs/tiny.yaml" --arms "$work/arms2.yaml" train.epochs=1,2 --seeds 0-1 --out "$work/arms"
expect_code 2
expect_err "holds runs of the arm no_clip as"

# 8. Refused before any run: a value that does not validate, a baseline not in the grid, bad seeds, another
# manifest's settings in the same --out, run.seed as an override, no --out.
run sweep "$SRC/tests/runs/tiny.yaml" train.epochs=2,lots --out "$work/bad"
expect_code 2
expect_err "configuration train.epochs=lots does not validate"
[[ ! -e "$work/bad" ]] || fail "a sweep that does not validate made its directory"
run sweep "$SRC/tests/runs/tiny.yaml" train.lr=0.05,0.1 --baseline train.lr=0.2 --out "$work/bad"
expect_code 2
expect_err "--baseline 'train.lr=0.2' names no configuration of the grid"
run sweep "$SRC/tests/runs/tiny.yaml" --seeds 4-1 --out "$work/bad"
expect_code 2
expect_err "--seeds '4-1': the range 4-1 is empty"
run sweep "$SRC/tests/runs/tiny.yaml" train.lr=0.05,0.1 train.epochs=2 --seeds 3 --out "$work/slurm"
expect_code 2
expect_err "holds a sweep of"
expect_err "choose another --out"
run sweep "$SRC/tests/runs/tiny.yaml" run.seed=1,2 --out "$work/bad"
expect_code 2
expect_err "seeds are given with --seeds"
run sweep "$SRC/tests/runs/tiny.yaml"
expect_code 2
expect_err "--out DIR is required"
finish
