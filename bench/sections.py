"""bench/run's sections: each measures one item of the benchmark and returns a dict of figures and commands."""
import json
import os
import shutil
import socket
import statistics
import subprocess
import time
from pathlib import Path

import libtorch
from harness import (PYTHON_WITH_TORCH, BenchError, alternate, both, cores, json_line, pick, program_rate, ratios, run,
                     say, spread, spreads, steady_rate, summary, thread_env)

SRC = Path(__file__).resolve().parent.parent
MODELS = SRC / "bench" / "models"

# The model sizes of bench/models/{small,gemm}.yaml, as the baseline and the PyTorch script take them.
SMALL = {"modalities": 2, "dim": 16, "hidden": [64], "out-dim": 32, "classes": 4, "batch": 64, "samples": 4096}
GEMM = {"modalities": 2, "dim": 256, "hidden": [1024, 1024], "out-dim": 256, "classes": 16, "batch": 256, "samples": 4096}


class Bench:
    """What every section shares: binaries, the LibTorch they run on and the Python with the same torch, the scratch
    directory, threads, sizes for --quick or full."""

    def __init__(self, build, work, threads, quick, device, python=None, rounds=None):
        self.build = Path(build)
        self.host = self.build / "bin" / "mmdebias"
        self.baseline_bin = self.build / "bin" / "mmdebias-bench-baseline"
        for b in (self.host, self.baseline_bin):
            if not b.exists():
                raise BenchError(f"{b} is missing: build it first (cmake --build {build} --target mmdebias mmdebias-bench-baseline)")
        self.work = Path(work)
        self.threads = threads
        self.quick = quick
        self.device = device
        self.repeats = rounds or (3 if quick else 5)
        self.counter = 0
        # The LibTorch the host loads and the Python whose torch is that same library (bench/libtorch.py).
        self.libtorch = libtorch.host_libtorch(self.build, self.host)
        if python:
            self.python_exe, self.python_found = str(python), "--python"
        else:
            self.python_exe, self.python_found = libtorch.python_beside(self.build, self.libtorch)
        self.py = libtorch.probe(self.python_exe, threads, lambda cmd: run(cmd, threads)[0] if Path(cmd[0]).exists() else "")
        same, why = libtorch.same_libtorch(self.libtorch, self.py)
        self.same_torch, self.same_torch_why = same, why
        # Refused unless the user chose the Python: a PyTorch figure on another LibTorch compares two libraries.
        self.python_problem = None if same or python else (
            f"{self.python_exe} ({self.python_found}) does not run the host's LibTorch: {why}; "
            f"pass --python PATH to choose the Python to compare with")
        major = _major(self.py.get("version"))
        if "error" in self.py:
            self.compile_unavailable = f"not available ({self.py['error']})"
        elif major is not None and major < 2:
            self.compile_unavailable = f"not available (PyTorch {_major_minor(self.py['version'])})"
        elif not self.py.get("has_compile"):
            self.compile_unavailable = f"not available (PyTorch {self.py.get('version')} has no torch.compile)"
        else:
            self.compile_unavailable = None

    def fresh(self, name):
        self.counter += 1
        d = self.work / f"{self.counter:04d}-{name}"
        shutil.rmtree(d, ignore_errors=True)
        return d

    def host_cmd(self, manifest, out, overrides):
        return [self.host, "run", manifest, "--out", out, f"run.threads={self.threads}", f"run.device={self.device}"] + list(overrides)

    def host_steady(self, manifest, overrides, warmup, name):
        out = self.fresh(name)
        run(self.host_cmd(manifest, out, overrides), self.threads, log=str(out) + ".log")
        return steady_rate(out, warmup)

    def model_args(self, sizes, steps, warmup):
        args = []
        for k, v in sizes.items():
            args += [f"--{k}", ",".join(map(str, v)) if isinstance(v, list) else str(v)]
        return args + ["--steps", str(steps), "--warmup", str(warmup), "--threads", str(self.threads), "--device", self.device]

    def baseline(self, sizes, steps, warmup):
        out, _ = run([self.baseline_bin, "train"] + self.model_args(sizes, steps, warmup), self.threads)
        return program_rate(out)

    def python(self, sizes, steps, warmup):
        if self.python_problem:
            raise BenchError(self.python_problem)
        out, _ = run([self.python_exe, SRC / "bench" / "pytorch_train.py"] + self.model_args(sizes, steps, warmup), self.threads)
        return program_rate(out)

    def compiled(self, sizes, steps, warmup, cache):
        """The PyTorch script on torch.compile(model): its rates and compile time, or {"error": why} when it cannot
        compile here (the script exits 3 then). `cache` is inductor's cache directory for this model."""
        if self.python_problem:
            raise BenchError(self.python_problem)
        cmd = [self.python_exe, SRC / "bench" / "pytorch_train.py"] + self.model_args(sizes, steps, warmup) + ["--compile"]
        out, _ = run(cmd, self.threads, extra_env={"TORCHINDUCTOR_CACHE_DIR": str(cache)}, ok_codes=(0, 3))
        d = json_line(out)
        if "compile_error" in d:
            return {"error": d["compile_error"], "detail": d.get("compile_error_detail", "")}
        return {"wall": d["steady_samples_per_s"], "cpu": d["steady_samples_per_cpu_s"], "compile_seconds": d["compile_seconds"],
                "compile_cpu_seconds": d["compile_cpu_seconds"], "recompiled": d.get("recompiled_in_steady_state"),
                "cache": d.get("cache")}


def _major(version):
    try:
        return int(str(version).split(".")[0])
    except ValueError:
        return None


def _major_minor(version):
    return ".".join(str(version).split("+")[0].split(".")[:2])


class CompiledArm:
    """The torch.compile arm of one model across rounds. Inductor's cache starts empty, so round 1 compiles cold
    (what a user's first run costs) and later rounds find its kernels cached (what a rerun costs). After a failure
    to compile the arm is not run again: each round records None and the reason is kept."""

    def __init__(self, b, sizes, steps, warmup, label):
        self.b, self.sizes, self.steps, self.warmup = b, sizes, steps, warmup
        self.cache = b.work / f"inductor-cache-{label}"
        shutil.rmtree(self.cache, ignore_errors=True)
        self.error = None
        self.detail = ""

    def __call__(self):
        if self.error:
            return None
        r = self.b.compiled(self.sizes, self.steps, self.warmup, self.cache)
        if "error" in r:
            self.error, self.detail = r["error"], r["detail"]
            say(f"torch.compile arm unavailable: {self.error}")
            return None
        return r


def compiled_summary(arm, host, eager, values):
    """The compiled arm's figures beside the host and the eager script, over the rounds where it ran."""
    ok = [i for i, v in enumerate(values) if v is not None]
    if not ok:
        return {"unavailable": arm.error or "did not run", "detail": arm.detail[-3000:]}
    c = [values[i] for i in ok]
    out = {"rates": spreads(c), "rounds": len(ok),
           "host_vs_compiled": both([host[i] for i in ok], c), "compiled_vs_eager": both(c, [eager[i] for i in ok]),
           "recompiled_in_steady_state": any(v.get("recompiled") for v in c)}
    if arm.error:
        out["failed_later"] = arm.error
    later = [values[i].get("cache") for i in ok if i > 0]
    # whether the later rounds' compile found round 1's graphs in inductor's cache (None: not reported)
    out["cached_rounds_hit"] = (all((c or {}).get("fxgraph_cache_hit", 0) > 0 for c in later)
                                if later and all(c is not None for c in later) else None)
    for key in ("compile_seconds", "compile_cpu_seconds"):
        out[key] = {"cold": values[0][key] if values[0] is not None else None,
                    "warm": spread([values[i][key] for i in ok if i > 0]) if any(i > 0 for i in ok) else None}
    return out


def rel(path):
    """A path as the doc shows it: relative to the source tree when inside it, else absolute."""
    path = os.path.abspath(path)
    inside = os.path.commonpath([path, str(SRC)]) == str(SRC)
    return os.path.relpath(path, SRC) if inside else path


def host_line(b, manifest, overrides):
    return " ".join([rel(b.host), "run", rel(manifest), "--out DIR", f"run.threads={b.threads}"] + [f"'{o}'" if " " in o else o for o in overrides])


def model_line(b, what, sizes, steps, warmup):
    args = " ".join(b.model_args(sizes, steps, warmup))
    if what == "baseline":
        return f"{rel(b.baseline_bin)} train {args}"
    return f"{rel(b.python_exe)} bench/pytorch_train.py {args}" + (" --compile" if what == "compiled" else "")


def size_overrides(sizes):
    """The model sizes as host overrides, so the host trains exactly what the baseline and the script build
    (the manifest's encoders are m0..m{M-1}, as std.gaussian names its modalities)."""
    out = [f"data.modalities={sizes['modalities']}", f"data.dim={sizes['dim']}", f"data.classes={sizes['classes']}",
           f"data.train_size={sizes['samples']}", f"train.batch_size={sizes['batch']}"]
    for m in range(sizes["modalities"]):
        out += [f"model.encoders.m{m}.hidden=[{','.join(map(str, sizes['hidden']))}]", f"model.encoders.m{m}.out_dim={sizes['out-dim']}"]
    return out


def _three_way(b, manifest, sizes, steps, warmup, label):
    """Host, LibTorch baseline and PyTorch script (eager, and torch.compile where PyTorch has it) on one model,
    alternating; samples/s of each round."""
    overrides = [f"train.steps={steps}", f"train.log_every={1 if steps < 100 else 10}"] + size_overrides(sizes)
    arms = {
        "host": lambda: b.host_steady(manifest, overrides, warmup, label),
        "baseline": lambda: b.baseline(sizes, steps, warmup),
        "python": lambda: b.python(sizes, steps, warmup),
    }
    compiled = None
    if b.compile_unavailable is None:
        compiled = arms["compiled"] = CompiledArm(b, sizes, steps, warmup, label)
    values = alternate(arms, b.repeats, lambda m: say(f"{label}: {m}"))
    cmds = {"host": host_line(b, manifest, overrides), "baseline": model_line(b, "baseline", sizes, steps, warmup),
            "python": model_line(b, "python", sizes, steps, warmup), "compiled": model_line(b, "compiled", sizes, steps, warmup)}
    return values, cmds, compiled


def _compiled_figures(b, arm, values):
    if arm is None:
        return {"unavailable": b.compile_unavailable}
    return compiled_summary(arm, values["host"], values["python"], values["compiled"])


def linear_flops(sizes):
    """FLOPs of one training step of the model, counted per Linear layer: forward 2·B·in·out; backward the
    weight gradient 2·B·in·out plus the input gradient 2·B·in·out, except for the first layer of each encoder
    (its input is data, which needs no gradient). Bias, ReLU, loss and Adam are elementwise and left out."""
    B = sizes["batch"]
    widths = [sizes["dim"]] + sizes["hidden"] + [sizes["out-dim"]]
    total = 0
    for m in range(sizes["modalities"]):
        for i, (a, o) in enumerate(zip(widths, widths[1:])):
            total += 2 * B * a * o * (2 if i == 0 else 3)
    head_in = sizes["out-dim"] * sizes["modalities"]
    total += 2 * B * head_in * sizes["classes"] * 3
    return total


def overhead_and_python(b):
    """Sections 1-3: plugin overhead (host vs the hand-written LibTorch loop), host vs PyTorch on a small and a
    GEMM-bound model, and the GEMM-bound step's FLOP/s against a measured torch.mm peak."""
    small_steps, small_warm = (1000, 200) if b.quick else (3000, 500)
    gemm_steps, gemm_warm = (10, 3) if b.quick else (25, 5)
    gemm_log = 1
    if b.device != "cpu":
        # A GPU runs the GEMM-bound step in about a millisecond: more steps to time, and the host logs (reads the loss,
        # a device sync) every 10 steps like the baseline and the PyTorch script, not every step.
        gemm_steps, gemm_warm, gemm_log = (300, 50, 10) if b.quick else (1000, 100, 10)
    out = {}
    v, cmds, compiled = _three_way(b, MODELS / "small.yaml", SMALL, small_steps, small_warm, "small")
    out["small"] = {"values": v, "commands": cmds,
                    "host_vs_baseline": both(v["host"], v["baseline"]), "host_vs_python": both(v["host"], v["python"]),
                    "host": spreads(v["host"]), "baseline": spreads(v["baseline"]), "python": spreads(v["python"]),
                    "compiled": _compiled_figures(b, compiled, v)}
    mm_size = 1024 if b.quick else 2048
    if b.device != "cpu":
        mm_size = 8192  # ~1.1 TFLOP per product: long enough to time on a GPU
    mm_cmd = [b.baseline_bin, "mm", "--size", mm_size, "--repeats", 5, "--threads", b.threads, "--device", b.device]
    overrides = [f"train.steps={gemm_steps}", f"train.log_every={gemm_log}"] + size_overrides(GEMM)
    arms = {
        "host": lambda: b.host_steady(MODELS / "gemm.yaml", overrides, gemm_warm, "gemm"),
        "baseline": lambda: b.baseline(GEMM, gemm_steps, gemm_warm),
        "python": lambda: b.python(GEMM, gemm_steps, gemm_warm),
    }
    compiled = None
    if b.compile_unavailable is None:
        compiled = arms["compiled"] = CompiledArm(b, GEMM, gemm_steps, gemm_warm, "gemm")
    arms["mm"] = lambda: (lambda d: {"wall": d["mm_flops"], "cpu": d["mm_flops_per_cpu_s"]})(json_line(run(mm_cmd, b.threads)[0]))
    v = alternate(arms, b.repeats, lambda m: say(f"gemm: {m}"))
    flops = linear_flops(GEMM)
    per_sample = flops / GEMM["batch"]
    out["gemm"] = {"values": v, "flops_per_step": flops,
                   "commands": {"host": host_line(b, MODELS / "gemm.yaml", overrides),
                                "baseline": model_line(b, "baseline", GEMM, gemm_steps, gemm_warm),
                                "python": model_line(b, "python", GEMM, gemm_steps, gemm_warm),
                                "compiled": model_line(b, "compiled", GEMM, gemm_steps, gemm_warm),
                                "mm": " ".join(map(str, [rel(b.baseline_bin)] + mm_cmd[1:]))},
                   "host_vs_baseline": both(v["host"], v["baseline"]), "host_vs_python": both(v["host"], v["python"]),
                   "host": spreads(v["host"]), "baseline": spreads(v["baseline"]), "python": spreads(v["python"]),
                   "compiled": _compiled_figures(b, compiled, v),
                   "mm": spreads(v["mm"]),
                   # Wall with wall, CPU time with CPU time, within each round.
                   "host_fraction_of_peak": {k: ratios([h * per_sample for h in pick(v["host"], k)], pick(v["mm"], k)) for k in ("wall", "cpu")},
                   "baseline_fraction_of_peak": {k: ratios([h * per_sample for h in pick(v["baseline"], k)], pick(v["mm"], k)) for k in ("wall", "cpu")}}
    return out


def data_pipeline(b):
    """Section 4: the share of training time the trainer waits for the loader, for every built-in dataset."""
    files_root = b.work / "digits-files"
    if not (files_root / "train").exists():
        run([PYTHON_WITH_TORCH, SRC / "examples" / "files" / "make_digits.py", files_root], 1)
    steps = 60 if b.quick else 200
    # The default loader thread (bench/models/small.yaml reads in-line for sections 1-2): the wait it cannot hide.
    common = [f"train.steps={steps}", "train.log_every=10", "train.checkpoint_every=1000000", "train.eval_every=1000000",
              "eval.scorers=[]", "run.prefetch=4"]
    datasets = {
        "std.gaussian": (MODELS / "small.yaml", []),
        "data.fashion_captions": (SRC / "examples" / "fashion-captions.yaml", ["data.train_size=3000", "data.test_size=500"]),
        "data.av_digits": (SRC / "examples" / "av-digits.yaml", []),
        "data.files": (SRC / "examples" / "files" / "digits.yaml", [f"data.root={files_root}"]),
    }
    out = {}
    for name, (manifest, extra) in datasets.items():
        fractions, rates = [], []
        for r in range(b.repeats):
            say(f"data {name}: round {r + 1}/{b.repeats}")
            d = b.fresh("data")
            run(b.host_cmd(manifest, d, common + extra), b.threads, log=str(d) + ".log")
            s = summary(d)
            fractions.append(s["train"]["data_wait_fraction"])
            rates.append(s["train"]["samples_per_s"])
        out[name] = {"wait_fraction": spread(fractions), "samples_per_s": spread(rates),
                     "command": host_line(b, manifest, common + extra)}
    return out


METHOD_ARMS = {
    "joint": [],
    "ARL": ["estimators=[{type: arl.uncertainty}]", "interventions=[{type: arl.reweight}]"],
    "MCR (S = 32)": ["interventions=[{type: mcr.competition, num_samples: 32}]"],
    "A2D": ["model.fusion.modality_heads=separate", "interventions=[{type: a2d.disagree}]"],
    "A2D + NP-Mix": ["model.fusion.modality_heads=separate",
                     "interventions=[{type: a2d.disagree}, {type: a2d.npmix, start_epoch: 0, queue_size: 20}]"],
    "InfoMin (TE-D)": ["estimators=[{type: infomin.confounder}]", "interventions=[{type: infomin.debias}]"],
}


def method_overheads(b):
    """Section 5: steady step time of each method against joint training on the same pipeline, alternating;
    and CausalMM's inference cost (`mmdebias eval` of the same weights, with and without the intervention)."""
    steps, warm = (80, 20) if b.quick else (250, 50)
    manifest = MODELS / "methods.yaml"
    base = [f"train.steps={steps}", "train.log_every=10"]
    arms = {name: (lambda extra=extra: b.host_steady(manifest, base + extra, warm, "method")) for name, extra in METHOD_ARMS.items()}
    v = alternate(arms, b.repeats, lambda m: say(f"methods: {m}"))
    out = {"rates": {k: spreads(x) for k, x in v.items()},
           "step_time_ratio": {k: both(v["joint"], x) for k, x in v.items() if k != "joint"},
           "commands": {k: host_line(b, manifest, base + extra) for k, extra in METHOD_ARMS.items()}}

    # CausalMM at inference: train once (untimed), then evaluate the same weights with and without it.
    test = ["data.test_size=2000" if b.quick else "data.test_size=5000"]
    setup = ["train.steps=20", "train.log_every=10"] + test
    runs = {}
    for name, extra in {"factual": ["interventions=[]"],
                        "CausalMM": ['interventions=[{type: causalmm.counterfactual_attention, sites: ["encoders.text.*"], sweep_edits: []}]']}.items():
        d = b.fresh("causalmm-" + name)
        run(b.host_cmd(manifest, d, setup + extra), b.threads, log=str(d) + ".log")
        runs[name] = d

    def eval_time(d):
        _, wall = run([b.host, "eval", d, f"run.threads={b.threads}"], b.threads)
        return wall

    ev = alternate({k: (lambda d=d: eval_time(d)) for k, d in runs.items()}, b.repeats, lambda m: say(f"causalmm eval: {m}"))
    host_stats = {k: summary(d)["eval"].get("host", {}) for k, d in runs.items()}
    out["causalmm"] = {"seconds": {k: spread(x) for k, x in ev.items()}, "ratio": ratios(ev["CausalMM"], ev["factual"]),
                       "host": host_stats,
                       "command": f"{rel(b.host)} run {rel(manifest)} --out DIR {' '.join(setup)} 'interventions=[...]' && "
                                  f"{rel(b.host)} eval DIR run.threads={b.threads}"}
    return out


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _two_ranks(b, manifest, overrides, warmup, bucket_mb=None):
    """Two processes of one thread each, pinned to cores 0 and 1; rank 0's steady samples/s (global samples)."""
    d = b.fresh("ranks2")
    port = _free_port()
    extra = [f"run.bucket_mb={bucket_mb}"] if bucket_mb is not None else []
    procs = []
    for r in range(2):
        env = thread_env(1)
        env.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE="2", RANK=str(r), LOCAL_WORLD_SIZE="2")
        cmd = cores(r, 1) + [str(c) for c in [b.host, "run", manifest, "--out", d, "run.threads=1"] + overrides + extra]
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outs = [p.communicate(timeout=900)[0] for p in procs]
    if any(p.returncode for p in procs):
        raise BenchError(f"2-rank run failed: {' '.join(map(str, cmd))}\n{outs[0][-1500:]}\n{outs[1][-1500:]}")
    return steady_rate(d, warmup)


def distributed(b):
    """Section 6: 2 ranks x 1 thread vs 1 rank x 1 thread (and x 2 threads), global batch kept; bucket sweep."""
    if (os.cpu_count() or 1) < 2:
        raise BenchError("two ranks need two cores")
    steps, warm = (60, 20) if b.quick else (200, 50)
    manifest = SRC / "examples" / "default.yaml"
    wide = ["model.encoders.m0.hidden=[512,512]", "model.encoders.m1.hidden=[512,512]", "data.train_size=8192",
            f"train.steps={steps}", "train.log_every=10", "train.checkpoint_every=1000000", "train.eval_every=1000000"]
    one = lambda threads: (lambda: _one_rank(b, manifest, wide + ["train.batch_size=256"], warm, threads))
    arms = {"1 rank x 1 thread": one(1), "1 rank x 2 threads": one(2),
            "2 ranks x 1 thread": lambda: _two_ranks(b, manifest, wide + ["train.batch_size=128"], warm)}
    v = alternate(arms, b.repeats, lambda m: say(f"distributed: {m}"))
    wall = {k: pick(x, "wall") for k, x in v.items()}  # CPU time means little across process counts
    out = {"rates": {k: spread(x) for k, x in wall.items()},
           "speedup_vs_1x1": ratios(wall["2 ranks x 1 thread"], wall["1 rank x 1 thread"]),
           "speedup_vs_1x2": ratios(wall["2 ranks x 1 thread"], wall["1 rank x 2 threads"]),
           "command_one": f"{rel(b.host)} run {rel(manifest)} --out DIR run.threads=T train.batch_size=256 " + " ".join(wide),
           "command_two": "MASTER_ADDR=127.0.0.1 MASTER_PORT=P WORLD_SIZE=2 RANK=r LOCAL_WORLD_SIZE=2 taskset -c r "
                          f"{rel(b.host)} run {rel(manifest)} --out DIR run.threads=1 train.batch_size=128 " + " ".join(wide)}
    sizes = [0.25, 1, 25]
    sweep = alternate({f"{mb} MiB": (lambda mb=mb: _two_ranks(b, manifest, wide + ["train.batch_size=128"], warm, mb)) for mb in sizes},
                      b.repeats, lambda m: say(f"bucket sweep: {m}"))
    sweep = {k: pick(x, "wall") for k, x in sweep.items()}
    out["buckets"] = {k: spread(x) for k, x in sweep.items()}
    out["buckets_vs_25"] = {k: ratios(x, sweep["25 MiB"]) for k, x in sweep.items()}
    return out


def _one_rank(b, manifest, overrides, warmup, threads):
    d = b.fresh("ranks1")
    run([b.host, "run", manifest, "--out", d, f"run.threads={threads}"] + overrides, threads, log=str(d) + ".log")
    return steady_rate(d, warmup)


def startup(b):
    """Section 7: `mmdebias validate` of a manifest naming every shipped plugin; time to the first training step
    (process start to the first train line in metrics.jsonl, polled every millisecond)."""
    composed = SRC / "examples" / "composed.yaml"
    validate = [b.host, "validate", composed]
    plugins = [b.host, "plugins"]

    def first_step(manifest, extra):
        d = b.fresh("first-step")
        cmd = cores(0, b.threads) + [str(c) for c in b.host_cmd(manifest, d, ["train.log_every=1", "train.steps=3"] + extra)]
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, env=thread_env(b.threads), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        metrics = d / "metrics.jsonl"
        seen = None
        while seen is None and p.poll() is None:
            if metrics.exists() and metrics.stat().st_size > 0:
                seen = time.perf_counter() - t0
            else:
                time.sleep(0.001)
        p.wait()
        if p.returncode != 0 or seen is None and not metrics.exists():
            raise BenchError(f"first-step run failed: {' '.join(cmd)}")
        return seen if seen is not None else time.perf_counter() - t0

    arms = {"validate (all plugins)": lambda: run(validate, b.threads)[1],
            "plugins (list)": lambda: run(plugins, b.threads)[1],
            "first step: std.gaussian": lambda: first_step(MODELS / "small.yaml", []),
            "first step: fashion-captions, all plugins": lambda: first_step(composed, ["data.train_size=3000"])}
    v = alternate(arms, b.repeats, lambda m: say(f"start-up: {m}"))
    return {"seconds": {k: spread(x) for k, x in v.items()},
            "commands": {"validate (all plugins)": f"{rel(b.host)} validate {rel(composed)}",
                         "plugins (list)": f"{rel(b.host)} plugins",
                         "first step: std.gaussian": host_line(b, MODELS / "small.yaml", ["train.log_every=1", "train.steps=3"]),
                         "first step: fashion-captions, all plugins": host_line(b, composed, ["train.log_every=1", "train.steps=3", "data.train_size=3000"])}}


def _dnnl_kernels(b, manifest, overrides):
    """Which oneDNN implementations a few steps run, from ONEDNN_VERBOSE's exec lines: {"primitive implementation":
    [calls, milliseconds]} ({} when none ran: fp32 GEMMs go to the BLAS library, which logs nothing)."""
    d = b.fresh("kernels")
    out, _ = run(b.host_cmd(manifest, d, overrides), b.threads, extra_env={"ONEDNN_VERBOSE": "1", "DNNL_VERBOSE": "1"})
    counts = {}
    for line in out.splitlines():
        f = line.split(",")
        if len(f) > 5 and f[0] in ("onednn_verbose", "dnnl_verbose") and f[1] == "exec":
            c = counts.setdefault(f"{f[3]} {f[4]}", [0, 0.0])
            c[0] += 1
            try:
                c[1] += float(f[-1])
            except ValueError:
                pass
    return counts


def precision(b):
    """Section 9: run.precision fp32 against bf16 (and fp16 on a GPU) on the small and the GEMM-bound model,
    alternating; and which oneDNN kernels a bf16 step of the GEMM-bound model runs."""
    low = ["bf16"] + (["fp16"] if b.device.startswith("cuda") else [])
    if b.device.startswith("cuda"):
        small_steps, gemm_steps, warm, log = (300, 300, 50, 10) if b.quick else (1000, 1000, 100, 10)
    else:
        small_steps, gemm_steps, warm, log = (150, 15, 5, 1) if b.quick else (400, 30, 10, 1)
    models = {"small": (MODELS / "small.yaml", small_steps), "GEMM-bound": (MODELS / "gemm.yaml", gemm_steps)}
    overrides = {(m, p): [f"train.steps={steps}", f"train.log_every={log}", f"run.precision={p}"]
                 for m, (_, steps) in models.items() for p in ["fp32"] + low}
    arms = {f"{m} {p}": (lambda m=m, p=p: b.host_steady(models[m][0], overrides[(m, p)], warm, "precision"))
            for (m, p) in overrides}
    v = alternate(arms, b.repeats, lambda msg: say(f"precision: {msg}"))
    out = {"rates": {k: spreads(x) for k, x in v.items()},
           "speedup": {f"{m} {p}": both(v[f"{m} {p}"], v[f"{m} fp32"]) for m in models for p in low},
           "commands": {f"{m} {p}": host_line(b, models[m][0], o) for (m, p), o in overrides.items()}}
    if not b.device.startswith("cuda"):
        short = ["train.steps=3", "train.log_every=1"]
        out["kernels"] = {f"{m} {p}": _dnnl_kernels(b, manifest, short + [f"run.precision={p}"])
                          for m, (manifest, _) in models.items() for p in ("fp32", "bf16")}
        out["kernels_command"] = "ONEDNN_VERBOSE=1 " + host_line(b, MODELS / "gemm.yaml", short + ["run.precision=bf16"])
        if not b.python_problem:  # the same LibTorch's profiler on the same models: where a bf16 step's time goes
            out["profile"], out["profile_commands"] = {}, {}
            for m in ("small", "gemm"):
                cmd = [b.python_exe, SRC / "bench" / "precision_profile.py", "--model", m, "--threads", str(b.threads),
                       "--steps", "20" if b.quick else "50"]
                out["profile"][m] = json_line(run(cmd, b.threads)[0])
                out["profile_commands"][m] = " ".join([rel(b.python_exe)] + [rel(c) if isinstance(c, Path) else c for c in cmd[1:]])
    return out
