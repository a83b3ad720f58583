"""bench/run's measuring tools: pinned processes, steady-state rates, A B A B alternation, medians with spread.

Nothing here imports torch: the harness only starts processes (the host, the LibTorch baseline, the PyTorch
script) and reads what they write.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

# Debian's Python: runs the helper scripts that need numpy only (examples/files/make_digits.py). The PyTorch
# reference runs on the Python beside the build (bench/libtorch.py), which may be another one.
PYTHON_WITH_TORCH = "/usr/bin/python3"


class BenchError(RuntimeError):
    """A measured command failed: the message names it and holds the end of its output."""


def cores(first, count):
    """The taskset prefix that pins a process to `count` cores from `first` (none where taskset is missing)."""
    if not shutil.which("taskset"):
        return []
    last = min(first + count, os.cpu_count() or 1) - 1
    return ["taskset", "-c", f"{min(first, last)}-{last}"]


def thread_env(threads):
    env = dict(os.environ)
    # One count for every pool a library may start (OpenMP for LibTorch and OpenBLAS-OpenMP, MKL if present).
    for key in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[key] = str(threads)
    return env


def run(cmd, threads, pin_first=0, cwd=None, log=None, extra_env=None, ok_codes=(0,)):
    """Runs cmd pinned to `threads` cores; returns (stdout, wall seconds). Raises BenchError when it exits with a
    code outside ok_codes."""
    full = cores(pin_first, threads) + [str(c) for c in cmd]
    env = thread_env(threads)
    env.update(extra_env or {})
    t0 = time.perf_counter()
    p = subprocess.run(full, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    if log:
        Path(log).write_text(p.stdout + p.stderr)
    if p.returncode not in ok_codes:
        raise BenchError(f"exit {p.returncode}: {' '.join(full)}\n{(p.stdout + p.stderr)[-3000:]}")
    return p.stdout, wall


def json_line(stdout):
    """The last JSON object a measuring program printed."""
    for line in reversed(stdout.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise BenchError(f"no JSON line in the output:\n{stdout[-2000:]}")


def train_lines(run_dir):
    return [json.loads(l) for l in (Path(run_dir) / "metrics.jsonl").read_text().splitlines()
            if l.strip() and json.loads(l).get("type") == "train"]


def steady_rate(run_dir, warmup):
    """The host's samples per second between the end of step `warmup` and its last logged step, from the train
    lines' cumulative counters: {"wall": per wall second, "cpu": per second of process CPU time (all threads)}.
    The baseline and the PyTorch script time the same interval the same two ways."""
    lines = train_lines(run_dir)
    first = next((l for l in lines if l["step"] == warmup), None)
    last = lines[-1] if lines else None
    if first is None or last is None or last["step"] <= warmup:
        raise BenchError(f"{run_dir}: no train line at step {warmup} and a later one (train.log_every must divide it)")
    samples = last["samples"] - first["samples"]
    return {"wall": samples / (last["seconds"] - first["seconds"]), "cpu": samples / (last["cpu_seconds"] - first["cpu_seconds"])}


def program_rate(stdout):
    """The same two rates from the baseline's or the PyTorch script's JSON line."""
    d = json_line(stdout)
    return {"wall": d["steady_samples_per_s"], "cpu": d["steady_samples_per_cpu_s"]}


def pick(values, key):
    """One kind of figure ("wall" or "cpu") out of per-round results that hold both."""
    return [v[key] for v in values]


def summary(run_dir):
    return json.loads((Path(run_dir) / "summary.json").read_text())


def alternate(arms, repeats, progress=None):
    """Runs every arm once per round, in the given order, for `repeats` rounds (A B C A B C ...), so slow
    drifts of the machine's load hit every arm alike. arms: {name: callable returning a number}.
    Returns {name: [value per round]}."""
    values = {name: [] for name in arms}
    for r in range(repeats):
        for name, measure in arms.items():
            if progress:
                progress(f"round {r + 1}/{repeats}: {name}")
            values[name].append(measure())
    return values


def spread(xs):
    """'median (min..max, n)' of a list of numbers, as the doc prints it."""
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs)}


def ratios(numerators, denominators):
    """Per-round ratios: each round's pair was measured side by side, so the ratio cancels that round's load."""
    return spread([a / b for a, b in zip(numerators, denominators)])


def both(numerators, denominators):
    """Per-round ratios of wall-clock rates and of CPU-time rates."""
    return {k: ratios(pick(numerators, k), pick(denominators, k)) for k in ("wall", "cpu")}


def spreads(values):
    return {k: spread(pick(values, k)) for k in ("wall", "cpu")}


def fmt(s, digits=3, unit=""):
    return f"{s['median']:.{digits}f}{unit} ({s['min']:.{digits}f}..{s['max']:.{digits}f}, n = {s['n']})"


def say(message):
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
