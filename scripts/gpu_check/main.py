"""scripts/gpu-check's work (started by scripts/gpu-check with the Python that has PyTorch 2.x; see its usage text).

On a machine with NVIDIA GPU(s), PyTorch 2.x and no network: unpacks the .deb files that scripts/gpu-deps gathered
into a private prefix, builds mmdebias against this machine's PyTorch (torch.utils.cmake_prefix_path) with all its
cores, runs the GPU checks in order, each within its share of a 10-minute budget, and writes the figures as the GPU
section of docs/benchmarks.md. --dry-run (CPU-only machines, CI) checks the script itself: the tools, the deps
folder, the unpacking, and the configure step against the private prefix (every package must come from it), prints
every later step's command, and renders the section into a copy of the page.
"""
import argparse
import datetime
import json
import os
import shlex
import sys
import time
from pathlib import Path

from .plan import PLAN, TITLES, TOTAL, Clock
from .prefix import build_step, configure, unpack
from .preflight import preflight
from .report import section, write_section
from .runner import SRC, Failure, Runner, out_of, rel, say
from .steps import bench, data_wait, demo, resume, two_gpus


def main():
    p = argparse.ArgumentParser(prog="scripts/gpu-check", description=__doc__.splitlines()[0])
    p.add_argument("--dry-run", action="store_true", help="check the script here (no GPU needed): tools, deps, unpack, configure; print the rest")
    p.add_argument("--dry-run-build", action="store_true", help="with --dry-run: build too and check what the host loads (minutes)")
    p.add_argument("--deps", default=str(SRC / "third_party" / "debs"), help="the folder scripts/gpu-deps wrote (default third_party/debs)")
    p.add_argument("--out", help="the page to write the GPU section into (default docs/benchmarks.md; with --dry-run a copy in the build folder)")
    p.add_argument("--build", default=str(SRC / "build-gpu"), help="build folder (default build-gpu; the prefix goes in BUILD/deps-prefix)")
    p.add_argument("--python", default=sys.executable, help="the Python with PyTorch 2.x (default: this one)")
    p.add_argument("--cuda", choices=("auto", "toolkit", "shim"), default="auto",
                   help="how LibTorch's CMake package meets CUDA: the toolkit's nvcc, or scripts/gpu-check.cmake with the wheel's "
                        "runtime (auto: the toolkit where nvcc is found, else the shim, and the shim where the toolkit fails)")
    p.add_argument("--cxx", default=os.environ.get("CXX", "g++"), help="C++ compiler (default $CXX or g++)")
    p.add_argument("--jobs", type=int, default=0, help="build jobs (default: all cores)")
    p.add_argument("--budget", type=float, default=TOTAL, help=f"seconds for everything (default {TOTAL})")
    p.add_argument("--bench-rounds", type=int, default=3)
    p.add_argument("--bench-threads", type=int, default=1, help="cores (and intra-op threads) per benchmarked process (default 1)")
    p.add_argument("--skip", default="", help="comma-separated steps to skip (" + ",".join(n for n, _ in PLAN[4:-1]) + ")")
    a = p.parse_args()
    if a.dry_run_build and not a.dry_run:
        p.error("--dry-run-build goes with --dry-run")
    skip = {s for s in a.skip.split(",") if s}
    unknown = skip - {n for n, _ in PLAN[4:-1]}
    if unknown:
        p.error(f"--skip: unknown step(s) {', '.join(sorted(unknown))}")
    a.deps = os.path.abspath(a.deps)
    build = Path(a.build).resolve()
    prefix, work = build / "deps-prefix", build / "gpu-check"
    build.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    out = Path(a.out) if a.out else (work / "benchmarks-dry-run.md" if a.dry_run else SRC / "docs" / "benchmarks.md")
    clock = Clock(a.budget)
    runner = Runner(clock, work / "logs", a.dry_run)
    info = {"command": "scripts/gpu-check " + " ".join(shlex.quote(x) for x in sys.argv[1:]),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": out_of(["git", "-C", SRC, "rev-parse", "--short", "HEAD"]) or "?"}
    say(clock, f"{'DRY RUN: ' if a.dry_run else ''}budget {a.budget:.0f} s on {os.cpu_count()} cores; plan: "
               + ", ".join(f"{n} {s} s" for n, s in PLAN))
    steps, failed = {}, []
    fns = {"preflight": lambda: preflight(a, clock, info),
           "unpack": lambda: unpack(a, clock, info, prefix),
           "configure": lambda: configure(a, clock, info, prefix, build, runner),
           "build": lambda: build_step(a, clock, info, build, runner, a.dry_run_build),
           "demo": lambda: demo(a, clock, info, build, work, runner),
           "resume": lambda: resume(a, clock, info, build, work, runner),
           "two_gpus": lambda: two_gpus(a, clock, info, build, work, runner),
           "data_wait": lambda: data_wait(a, clock, info, build, work, runner),
           "bench": lambda: bench(a, clock, info, build, work, runner)}
    for name, planned in PLAN[:-1]:
        if name in skip:
            steps[name] = {"status": "skipped", "detail": "--skip", "seconds": 0}
            continue
        say(clock, f"step {name}: {TITLES[name]} (planned {planned} s, may take {clock.timeout_for(name):.0f} s)")
        t0 = time.monotonic()
        try:
            steps[name] = fns[name]()
        except Failure as e:
            steps[name] = {"status": "FAILED", "detail": str(e)}
            failed.append(name)
            say(clock, f"  FAILED: {e}")
            if name in ("preflight", "unpack", "configure", "build"):
                break  # nothing later can run
        steps[name]["seconds"] = time.monotonic() - t0
        say(clock, f"  {steps[name]['status']} in {steps[name]['seconds']:.1f} s"
                   + (f": {steps[name].get('detail')}" if steps[name]['status'] != "FAILED" and steps[name].get("detail") else ""))
    info["wall"] = clock.elapsed()
    t0 = time.monotonic()
    if a.dry_run and "configure" not in steps:
        say(clock, "dry run stopped before configuring: nothing rendered")
    elif "build" in steps:  # a build happened (or was planned): there is something to report
        if not a.dry_run and not a.out and steps["build"]["status"] != "passed":
            out = work / "benchmarks-failed.md"  # a failed build does not replace the page's figures
        text = section(info, steps, a, a.dry_run)
        base = out if a.out and Path(out).exists() else SRC / "docs" / "benchmarks.md"
        page = Path(base).read_text() if Path(base).exists() else ""
        write_section(text, page, out)
        (work / "results.json").write_text(json.dumps({"info": info, "steps": steps}, indent=1, default=str) + "\n")
        steps["report"] = {"status": "passed", "seconds": time.monotonic() - t0}
        say(clock, f"wrote the GPU section into {rel(out)} and {rel(work / 'results.json')}")
    say(clock, f"{'dry run ' if a.dry_run else ''}done in {clock.elapsed():.0f} s: "
               + ", ".join(f"{n} {s['status']}" for n, s in steps.items()))
    return 1 if failed else 0
