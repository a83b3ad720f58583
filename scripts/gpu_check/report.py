"""The GPU section of docs/benchmarks.md: the machine, each step's result, the data wait and the benchmark tables,
written between the page's GPU markers."""
import sys
from pathlib import Path

from .plan import PLAN, TITLES, TOTAL
from .runner import SRC

sys.path.insert(0, str(SRC / "bench"))
import render  # noqa: E402  (the page's GPU markers; bench/run keeps the block between them)


def _m(s, digits=0, scale=1.0, unit=""):
    if not s:
        return "-"
    return f"{s['median'] * scale:.{digits}f}{unit} ({s['min'] * scale:.{digits}f}..{s['max'] * scale:.{digits}f}, n = {s['n']})"


def bench_tables(res):
    part = res.get("1-3") or {}
    rows = []
    for label, key in (("small (dispatch-bound)", "small"), ("GEMM-bound", "gemm")):
        x = part.get(key)
        if not x:
            continue
        c = x.get("compiled") or {}
        comp = c.get("rates", {}).get("wall") if "rates" in c else None
        cold = (c.get("compile_seconds") or {}).get("cold")
        warm = (c.get("compile_seconds") or {}).get("warm")
        rows.append(f"| {label} | {_m(x['host']['wall'])} | {_m(x['baseline']['wall'])} | {_m(x['python']['wall'])} | "
                    f"{_m(comp) if comp else c.get('unavailable', '-')} | {_m(x['host_vs_python']['wall'], 2, unit='x')} | "
                    f"{_m(c['host_vs_compiled']['wall'], 2, unit='x') if comp else '-'} | "
                    f"{_m(c['compiled_vs_eager']['wall'], 2, unit='x') if comp else '-'} | {_m(x['host_vs_baseline']['wall'], 3)} | "
                    f"{f'{cold:.1f} s' if cold else '-'} / {_m(warm, 1, unit=' s') if warm else '-'} |")
    out = ["| model | host samples/s | LibTorch loop | PyTorch eager | torch.compile | host / eager | host / compile | compile / eager | host / loop | compile time, cold / cached |",
           "|---|---|---|---|---|---|---|---|---|---|"] + rows
    g = part.get("gemm")
    if g and g.get("mm"):
        out += ["", f"The GEMM-bound step ({g['flops_per_step'] / 1e9:.2f} GFLOP) against `torch::mm`'s peak on this GPU "
                    f"(`{g['commands']['mm']}`): peak {_m(g['mm']['wall'], 0, 1e-9, ' GFLOP/s')}; the host's step reaches "
                    f"{_m(g['host_fraction_of_peak']['wall'], 3)} of it, the LibTorch loop's {_m(g['baseline_fraction_of_peak']['wall'], 3)} "
                    f"(a batch of 256 is far too small to fill a GPU: these steps are launch-bound, not GEMM-bound, here)."]
    cmds = []
    for key in ("small", "gemm"):
        x = part.get(key)
        if x:
            cmds += [f"`{x['commands'][k]}`" for k in ("host", "baseline", "python", "compiled")]
    if cmds:
        out += ["", "Commands: " + "; ".join(cmds) + "."]
    return "\n".join(out)


def section(info, steps, a, dry):
    gpus = info.get("gpus") or []
    t = info.get("torch", {})
    lines = ["## GPU (scripts/gpu-check)", ""]
    if dry:
        lines += ["**Not yet run on a GPU.** This block is what `scripts/gpu-check --dry-run` renders on a machine without one: "
                  "the checks below were not run and there are no GPU figures.", ""]
    lines += ["Written by `scripts/gpu-check` on a machine with NVIDIA GPU(s), PyTorch 2.x and no network (rerun it there to "
              "replace this block; `bench/run` keeps it as it stands). The build dependencies come as Debian 12 `.deb` files "
              "gathered beforehand by `scripts/gpu-deps` (carried with the source tree) and unpacked into a private prefix; "
              "mmdebias is built against that machine's PyTorch (`torch.utils.cmake_prefix_path`).", "",
              "| | |", "|---|---|",
              f"| command | `{info.get('command')}` ({info.get('wall', 0):.0f} s of a {TOTAL} s budget) |",
              f"| date | {info.get('date')} (commit {info.get('commit')}) |",
              "| GPUs | " + (", ".join("%s: %s (%s)" % (g["index"], g["name"], g["memory"]) for g in gpus) or "none") + " |",
              f"| driver | {gpus[0]['driver'] if gpus else '-'} (`nvidia-smi`) |",
              f"| PyTorch | {t.get('torch')} (CUDA {t.get('cuda')}), `{t.get('python')}`, Python {t.get('python_version')} |",
              f"| CPU | {info.get('cpu')}, {info.get('cores')} cores; {info.get('os')}, {info.get('glibc')} |",
              f"| build | {info.get('compiler')}, cmake {info.get('cmake')}, {info.get('generator')}, -j{info.get('build_jobs', '-')}; "
              f"CUDA for the build: {info.get('cuda_mode')} |",
              f"| deps | {(info.get('deps') or {}).get('packages', '-')} Debian 12 packages, {(info.get('deps') or {}).get('mib', '-')} MiB "
              f"(`scripts/gpu-deps`) |", "", "### Checks", "",
              "| step | result | seconds (planned) | detail |", "|---|---|---|---|"]
    for name, _ in PLAN:
        s = steps.get(name)
        if not s:
            continue
        detail = str(s.get("detail", "")).replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {TITLES[name]} | {s['status']} | {s.get('seconds', 0):.0f} ({dict(PLAN)[name]}) | {detail} |")
    dw = (steps.get("data_wait") or {}).get("figures")
    if dw:
        lines += ["", "### Data wait on the GPU", "",
                  "`train.data_wait_fraction` of `summary.json` with the default loader (`run.prefetch` 4, one loader thread) and "
                  "the step on the GPU, 300 steps, 3 rounds; samples/s is whole-run.", "",
                  "| model | waiting for data | samples/s | command |", "|---|---|---|---|"]
        for k, f in dw.items():
            lines.append(f"| {k} | {_m(f['wait'], 2, 100, '%')} | {_m(f['samples_per_s'])} | `{f['command']}` |")
    res = (steps.get("bench") or {}).get("results")
    if res:
        lines += ["", "### The host vs PyTorch eager and torch.compile on the same GPU", "",
                  f"`{info.get('bench_command')}`: bench/run's sections 1-3 with `--device cuda` (the host with `run.device=cuda`, "
                  f"the hand-written LibTorch loop and `bench/pytorch_train.py` with `--device cuda`, all reading the loss before "
                  f"the clock, which drains the stream), arms alternating within each round; steady-state samples/s by wall clock, "
                  f"median (min..max, n) over rounds, ratios taken within each round. Each process is pinned to "
                  f"{a.bench_threads} core(s) with as many intra-op threads.", "", bench_tables(res)]
        if res.get("9"):  # run.precision on the GPU, rendered as bench/run renders it for a CPU
            lines += [render.section_9(res["9"], res.get("machine", {}))]
    lines.append("")
    return "\n".join(lines)


def write_section(text, page, out):
    """The page with its GPU block replaced by `text` (inserted before the analysis when it has none)."""
    begin, end = render.GPU_MARK.format(edge="begin"), render.GPU_MARK.format(edge="end")
    block = f"{begin}\n{text.strip()}\n{end}"
    i, j = page.find(begin), page.find(end)
    if 0 <= i < j:
        new = page[:i] + block + page[j + len(end):]
    else:
        k = page.find(render.ANALYSIS_HEADING)
        new = (page[:k] + block + "\n\n" + page[k:]) if k >= 0 else page.rstrip("\n") + "\n\n" + block + "\n"
    Path(out).write_text(new)
    return new
