"""The GPU checks, run against the built host: the demo on cuda; train, SIGKILL, resume, compare on one GPU; 2 ranks
on 2 GPUs == 1 rank; the data wait with the step on the GPU; bench/run's sections 1-3 on the GPU. A dry run prints
each one's commands and checks nothing."""
import json
import random
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .gpu_watch import GpuWatch
from .runner import SRC, Failure, q, rel, say


def summary_of(d):
    return json.loads((Path(d) / "summary.json").read_text())


def device_overrides(extra=()):
    return ["run.device=cuda", "run.deterministic=true"] + list(extra)


def demo(a, clock, info, build, work, runner):
    host = build / "bin" / "mmdebias"
    d = work / "demo"
    shutil.rmtree(d, ignore_errors=True)
    with GpuWatch(not a.dry_run) as w:
        _, _, secs = runner([host, "demo", "--out", d, "run.device=cuda"], "demo", clock.timeout_for("demo"))
    if a.dry_run:
        return {"status": "dry run"}
    s = summary_of(d)
    if not str(s.get("device", "")).startswith("cuda"):
        raise Failure(f"the demo ran on {s.get('device')!r}, not cuda ({d}/summary.json)")
    acc = (s.get("eval", {}).get("classification") or {}).get("accuracy")
    return {"status": "passed", "seconds_run": secs,
            "detail": f"device {s['device']}, {s['steps']} steps in {secs:.1f} s (process), {s['train']['samples_per_s']:.0f} samples/s"
                      + (f", test accuracy {acc:.3f}" if isinstance(acc, (int, float)) else "") + f"; {w.summary()}"}


def resume(a, clock, info, build, work, runner):
    """tests/cli/run_resume.sh's check on the GPU: an uninterrupted run, the same run SIGKILLed after a checkpoint and
    resumed, equal params_sha256 (run.deterministic: cuDNN/cuBLAS deterministic, no TF32)."""
    host = build / "bin" / "mmdebias"
    manifest = SRC / "tests" / "runs" / "tiny.yaml"
    over = device_overrides(["train.epochs=64"])  # 2048 steps: long enough to be killed in the middle on a GPU
    full, killed = work / "resume-full", work / "resume-killed"
    for d in (full, killed):
        shutil.rmtree(d, ignore_errors=True)
    deadline = time.monotonic() + clock.timeout_for("resume")
    runner([host, "run", manifest, "--out", full] + over, "resume-full", max(5, deadline - time.monotonic()))
    target = random.randint(300, 1500)
    say(clock, f"  $ {q([host, 'run', manifest, '--out', killed] + over)} &  # SIGKILL at step >= {target}, after a checkpoint")
    if a.dry_run:
        runner([host, "run", "--resume", killed], "resume", 1)
        return {"status": "dry run"}
    log = runner.log_path("resume-killed")
    with open(log, "w") as f:
        p = subprocess.Popen([str(c) for c in [host, "run", manifest, "--out", killed] + over], stdout=f, stderr=subprocess.STDOUT, cwd=SRC)
    step = 0
    while p.poll() is None and time.monotonic() < deadline:
        try:
            last = (killed / "metrics.jsonl").read_text().strip().splitlines()[-1]
            step = json.loads(last).get("step", 0)
        except (OSError, IndexError, ValueError):
            pass
        if step >= target and (killed / "checkpoints" / "latest").exists():
            break
        time.sleep(0.005)
    p.kill()
    p.wait()
    if (killed / "summary.json").exists():
        raise Failure(f"the run finished (step {step}) before it was killed at step {target}: the kill tested nothing")
    latest = (killed / "checkpoints" / "latest").read_text().strip() if (killed / "checkpoints" / "latest").exists() else None
    runner([host, "run", "--resume", killed], "resume", max(5, deadline - time.monotonic()))
    a_sha, b_sha = summary_of(full)["params_sha256"], summary_of(killed)["params_sha256"]
    if a_sha != b_sha:
        raise Failure(f"killed at step ~{step} ({latest}) and resumed: params_sha256 {b_sha[:16]}… differs from the uninterrupted run's {a_sha[:16]}…")
    return {"status": "passed", "detail": f"killed at step ~{step} (latest checkpoint {latest}), resumed: params_sha256 {a_sha[:16]}… "
                                          f"equal to the uninterrupted run's ({summary_of(full)['device']})"}


COMPARE = r"""
import sys, torch
def params(d):
    m = torch.jit.load(d + "/checkpoints/" + open(d + "/checkpoints/latest").read().strip(), map_location="cpu")
    return dict(m.model.named_parameters())
a, b = params(sys.argv[1]), params(sys.argv[2])
assert a.keys() == b.keys() and len(a) > 0, (sorted(a), sorted(b))
worst = max(((a[k] - b[k]).abs().max() / b[k].abs().max().clamp_min(1e-12)).item() for k in a)
print(f"{worst:.3e} {len(a)}")
"""


def two_gpus(a, clock, info, build, work, runner):
    """tests/cli/distributed.sh's check on GPUs: torchrun, 2 ranks x 32 on GPUs 0 and 1 (NCCL) against 1 rank x 64
    on one GPU, every parameter within 1e-5 (relative) after 20 steps."""
    n = len(info.get("gpus") or [])
    if n < 2 and not a.dry_run:
        return {"status": "skipped", "detail": f"{n} GPU on this machine: needs 2"}
    host = build / "bin" / "mmdebias"
    manifest = SRC / "tests" / "runs" / "dist.yaml"
    two, one = work / "dist-two", work / "dist-one"
    for d in (two, one, work / "torchrun-logs"):
        shutil.rmtree(d, ignore_errors=True)
    deadline = time.monotonic() + clock.timeout_for("two_gpus")
    port = str(random.randint(20000, 40000))
    with GpuWatch(not a.dry_run) as w:
        runner([a.python, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", port, "--no_python",
                "--redirects", "1", "--tee", "1", "--log_dir", work / "torchrun-logs", host, "run", manifest, "--out", two]
               + device_overrides(["run.backend=nccl"]), "two-ranks", max(5, deadline - time.monotonic()))
    runner([host, "run", manifest, "--out", one, "train.batch_size=64"] + device_overrides(), "one-rank", max(5, deadline - time.monotonic()))
    say(clock, f"  $ {q([a.python, '-c', '<compare the latest checkpoints>', two, one])}")
    _, text, _ = runner([a.python, "-c", COMPARE, two, one], "compare", max(5, deadline - time.monotonic()), show=False)
    if a.dry_run:
        return {"status": "dry run"}
    worst, count = text.split()[-2:]
    gpus = w.gpus()
    if float(worst) >= 1e-5:
        raise Failure(f"2 ranks x 32 and 1 rank x 64 differ by {worst} (relative) in some parameter, beyond 1e-5")
    return {"status": "passed", "detail": f"largest relative difference over {count} parameters {worst} (< 1e-5); "
                                          f"devices {summary_of(two)['device']} (2 ranks), {summary_of(one)['device']} (1 rank); {w.summary()}"
                                          + ("" if len(gpus) >= 2 or not gpus else " (fewer GPUs seen than ranks)")}


DATA_MODELS = {"small (dispatch-bound)": ("small", "bench/models/small.yaml"), "GEMM-bound": ("gemm", "bench/models/gemm.yaml")}


def data_wait(a, clock, info, build, work, runner):
    """train.data_wait_fraction of summary.json with the default loader (run.prefetch 4, one loader thread) while the
    step runs on the GPU: the share of training time the GPU step waited for the next batch."""
    sys.path.insert(0, str(SRC / "bench"))
    import sections
    host = build / "bin" / "mmdebias"
    deadline = time.monotonic() + clock.timeout_for("data_wait")
    rounds, results = 3, {k: [] for k in DATA_MODELS}
    common = ["train.steps=300", "train.log_every=10", "train.checkpoint_every=1000000", "train.eval_every=1000000",
              "eval.scorers=[]", "run.prefetch=4", "run.device=cuda"]
    cmds = {}
    for r in range(rounds):
        for label, (key, manifest) in DATA_MODELS.items():
            sizes = sections.SMALL if key == "small" else sections.GEMM
            over = common + sections.size_overrides(sizes)
            d = work / f"data-{key}-{r}"
            shutil.rmtree(d, ignore_errors=True)
            cmd = [host, "run", SRC / manifest, "--out", d] + over
            cmds[label] = f"{rel(host)} run {manifest} --out DIR " + " ".join(shlex.quote(o) for o in over)
            if r and a.dry_run:
                continue
            runner(cmd, f"data-{key}", max(5, deadline - time.monotonic()), show=(r == 0))
            if not a.dry_run:
                s = summary_of(d)
                results[label].append((s["train"]["data_wait_fraction"], s["train"]["samples_per_s"]))
    if a.dry_run:
        return {"status": "dry run"}
    from harness import spread
    figures = {k: {"wait": spread([x for x, _ in v]), "samples_per_s": spread([y for _, y in v]), "command": cmds[k]}
               for k, v in results.items()}
    worst = max(f["wait"]["median"] for f in figures.values())
    return {"status": "passed", "figures": figures,
            "detail": ", ".join(f"{k}: {f['wait']['median'] * 100:.2f}%" for k, f in figures.items()) + " of training time waiting for data (median of 3)"
                      + (" — above the CPU goal of 2%" if worst >= 0.02 else "")}


def bench(a, clock, info, build, work, runner):
    """bench/run's sections 1-3 on the GPU: the host, the hand-written LibTorch loop, PyTorch eager and torch.compile,
    alternating rounds, on the small and the GEMM-bound model; the GEMM-bound step against torch::mm's peak; and
    section 9: run.precision fp32 vs bf16 vs fp16 on both models."""
    bw = work / "bench"
    cmd = [a.python, SRC / "bench" / "run", "--build", build, "--device", "cuda", "--only", "1-3,9", "--quick",
           "--rounds", a.bench_rounds, "--threads", a.bench_threads, "--work", bw, "--out", bw / "bench.md", "--python", a.python]
    _, _, secs = runner(cmd, "bench", clock.timeout_for("bench"), ok=(0, 1))
    if a.dry_run:
        return {"status": "dry run", "command": q(cmd)}
    r = json.loads((bw / "results.json").read_text())
    info["bench_command"] = "bench/run " + " ".join(q([c]) for c in cmd[2:])
    part = r.get("1-3", {})
    if "error" in part:
        raise Failure(f"bench/run section 1-3 failed: {part['error'][-1500:]}")
    if "error" in r.get("9", {}):
        raise Failure(f"bench/run section 9 (precision) failed: {r['9']['error'][-1500:]}")
    return {"status": "passed", "results": r, "detail": f"{r.get('wall_seconds', secs):.0f} s, {a.bench_rounds} alternating rounds"}
