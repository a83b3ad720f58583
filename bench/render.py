"""Writes docs/benchmarks.md from bench/run's results: every figure with its spread and the command behind it."""
from harness import fmt


def _code(cmd):
    return f"`{cmd}`"


def _goal(ok, text):
    return f"**{'met' if ok else 'missed'}** ({text})"


def _error(section):
    return f"\nThis section failed in this run:\n\n```\n{section['error'][-1500:]}\n```\n"


PARTS = ("torch1", "torch2")
MARK = "<!-- bench/run part {part}: {edge} (a run against this LibTorch rewrites what is between these lines) -->"
# The GPU block: written by scripts/gpu-check on a GPU machine; bench/run keeps it as it stands.
GPU_MARK = "<!-- gpu-check: {edge} (scripts/gpu-check rewrites what is between these lines; bench/run keeps it) -->"
# Section 9 (run.precision) has a block of its own in each part, so that `bench/run --only 9` rewrites only it.
PRECISION_MARK = "<!-- bench/run part {part}, section 9: {edge} (a run of section 9 rewrites what is between these lines) -->"
MAIN_SECTIONS = ("1-3", "4", "5", "6", "7")
ANALYSIS_HEADING = "## Where a goal is missed"
GPU_PLACEHOLDER = """## GPU (scripts/gpu-check)

**Not yet run on a GPU**: no GPU figures. `scripts/gpu-check`, on a machine with NVIDIA GPU(s), PyTorch 2.x, CMake and
a C++ compiler (no network needed), builds mmdebias against that PyTorch with the Debian packages `scripts/gpu-deps`
gathered beforehand and writes this block: the demo on cuda, a train / SIGKILL / resume / compare on one GPU, 2 ranks
on 2 GPUs against 1 rank, the data wait with the step on the GPU, and the host against PyTorch eager and
`torch.compile` on the same GPU (bench/run sections 1-3 with `--device cuda`), within 10 minutes on 16 cores:

```sh
scripts/gpu-deps                 # here (Debian 12 with apt): third_party/debs/, 19 packages, 16.5 MiB; carry it along
scripts/gpu-check                # there: writes this block (scripts/gpu-check --help; --dry-run checks the script anywhere)
```
"""
_HOW_TO = {"torch1": "`bench/run --build build` (Debian's LibTorch 1.13, the Python `/usr/bin/python3` with Debian's python3-torch)",
           "torch2": "`bench/run --build build-torch2` (the LibTorch inside the torch 2.x wheel that `scripts/setup --torch pip` "
                     "installs, the Python of that wheel's venv)"}
_TITLE = {"torch1": "LibTorch 1.13 (Debian's packages)", "torch2": "LibTorch 2.x (the torch wheel from PyPI)"}

INTRO = """# Benchmarks

Written by `bench/run`. mmdebias builds against two LibTorch versions, and this page has one part for each: the
host on **Debian's LibTorch 1.13** against Debian's PyTorch 1.13, and the host on **the LibTorch inside the torch
2.x wheel** against PyTorch 2.x from that same wheel (eager and `torch.compile`). A run measures the build it is
given and rewrites that build's part only; the other part stays as its own run wrote it (each part names its
command, date, machine and load). Every figure of a part was measured in that part's one invocation. Do not edit
by hand: change `bench/render.py` (text) or `bench/sections.py` (what is measured) and run it again:
""" + "\n".join(f"- {_TITLE[p]}: {_HOW_TO[p]};" for p in PARTS) + """
- `--quick` (3 rounds, fewer steps) is for development: its figures are noisier;
- GPU: `scripts/gpu-check` on a GPU machine writes the block "GPU (scripts/gpu-check)" after the two parts, which
  `bench/run` keeps as it stands.

How it measures: arms of one comparison run **alternately** (A B C A B C ...), so a change of machine load
hits them alike; each ratio is taken within a round and the table gives the **median over rounds with
min..max and n**. Throughput is **steady state**: samples/s between the end of a warm-up step and the last
step (the host's `metrics.jsonl` train lines carry cumulative `seconds` and `samples`; the LibTorch baseline
and the PyTorch script time the same interval the same way), so process start, plugin loading and data
generation are excluded (section 7 measures them), and so is `torch.compile`'s compilation (the first step,
inside the warm-up; reported on its own). The baseline and the PyTorch script hold their data in
memory as tensors generated up front and take each batch by `index_select` of a per-epoch permutation,
which is what a user would write; the host reads the same kind of data through its dataset plugin and loader.
The PyTorch script runs on the Python beside the build (`MMDEBIAS_PYTHON` in its `CMakeCache.txt`, else the
wheel's own install, else `/usr/bin/python3`), and `bench/run` refuses to compare when that Python's torch is
not the LibTorch the host loads (`ldd`): same library, same BLAS, same threads.

Two figures for every rate: per **wall-clock** second (what a user sees) and per second of **process CPU
time** (all threads of the process; with one pinned thread it is the work done, and it stays put when other
processes share the core). On a quiet machine they agree; on a loaded one the CPU-time figure is the one to
trust for the ratio, the wall-clock one for absolute speed.
"""


def _load1(text):
    try:
        return float(str(text).split()[0])
    except (IndexError, ValueError):
        return 0.0


def _loaded(m):
    """True when the machine was visibly busy with other work: before the run starts, or during it beyond the
    one pinned process the benchmark itself keeps running."""
    return _load1(m.get("load_before")) >= 0.5 or _load1(m.get("load_after")) >= 1.5


def _source_text(m):
    src = m.get("host_source")
    if not src or (src.get("commit") == m.get("host_commit") and not src.get("dirty")):
        return f"commit {m['host_commit']}"
    return (f"bench/ at commit {m['host_commit']}; the host's build is of `{src['dir']}`, at commit {src.get('commit')}"
            f"{' with uncommitted changes' if src.get('dirty') else ''} when measured")


def header(r, part):
    m = r["machine"]
    mode = "quick mode: 3 rounds, fewer steps" if r.get("quick") else "full run"
    if "libtorch_text" in m:
        lt = m["libtorch_info"]
        libtorch_row = f"{m['libtorch_text']}: `{lt.get('library') or lt.get('torch_dir')}` (`ldd {m['host']}`)"
        python_row = (f"`{m['python']}` ({m['python_found']}): Python {m.get('python_version')}, torch {m['python_torch']}; "
                      f"{'the same LibTorch' if m.get('same_libtorch') else '**not the same LibTorch**'}: {m.get('same_libtorch_why')}")
        blas_row = f"{m['blas']} ({m.get('blas_how', '')})"
        threads_extra = f"; the Python reports {m['torch_threads']} (`torch.__config__.parallel_info()`)" if m.get("torch_threads") else ""
        compile_row = f"\n| torch.compile | {m.get('torch_compile', 'unknown')} |"
        if m.get("allocators"):
            al = m["allocators"]
            compile_row += (f"\n| malloc | host {al['host']}, baseline {al['baseline']}, Python {al['python']} (`ldd`; "
                            f"{'the same in every arm' if len(set(al.values())) == 1 else '**not the same in every arm**'}) |")
    else:  # a results.json from before the 2.x port
        libtorch_row = f"Debian {m['libtorch']}"
        python_row = f"Debian python3-torch {m.get('python3-torch')} (the same LibTorch build)"
        blas_row = f"`{m['blas']}` (`update-alternatives --query libblas.so.3-x86_64-linux-gnu`)"
        threads_extra = compile_row = ""
    load_note = ""
    if _loaded(m):
        load_note = (f"\n**Measured on a shared machine under load** (load average {m['load_before']} before, {m['load_after']} "
                     "after, on {cores} cores: other processes, builds, were running): wall-clock figures are low and spread "
                     "wide; read the per-round CPU-time ratios.\n").replace("{cores}", str(m["cores"]))
    quick_note = "\n**Quick mode** (`--quick`): 3 rounds and fewer steps; a development figure, noisier than a full run.\n" if r.get("quick") else ""
    return f"""## {_TITLE[part]}

Measured by `bench/run` ({mode}) against `{m.get('build', 'build')}`.
{load_note}{quick_note}
| | |
|---|---|
| command | `{r['command']}` ({r['wall_seconds'] / 60:.1f} min) |
| date | {m['date']} ({_source_text(m)}) |
| CPU | {m['cpu']}, {m['cores']} cores (`lscpu`), kernel {m['kernel']} |
| LibTorch (host) | {libtorch_row} |
| PyTorch (reference) | {python_row} |
| BLAS | {blas_row} |
| threads | {m['threads']} intra-op thread(s) per process (`run.threads`, `at::set_num_threads`, `torch.set_num_threads`, `OMP_NUM_THREADS`, `MKL_NUM_THREADS`), each process pinned with `taskset`{threads_extra} |{compile_row}
| device | {r.get('device', 'cpu')} |
| load average | {m['load_before']} before, {m['load_after']} after (1, 5, 15 min) |
"""


def _pair(d, digits=3, unit=""):
    return f"{fmt(d['wall'], digits, unit)} | {fmt(d['cpu'], digits, unit)}"


def _giga(d):
    return {k: (v / 1e9 if k != "n" else v) for k, v in d.items()}


def _ratio_text(x):
    return f"{x:.2f}x"


def _compile_figures(name, c):
    """One row of the torch.compile table, or None when the arm did not run."""
    if "unavailable" in c:
        return None
    cold = c["compile_seconds"]["cold"]
    cold_cpu = c["compile_cpu_seconds"]["cold"]
    warm = c["compile_seconds"]["warm"]
    cold_text = f"{cold:.1f} s ({cold_cpu:.1f} s CPU)" if cold is not None else "—"
    warm_text = fmt(warm, 1, " s") if warm else "—"
    if warm and c.get("cached_rounds_hit") is False:
        warm_text += " (inductor's cache was not hit)"
    return (f"| {name} | {_pair(c['rates'], 0 if name.startswith('small') else 1)} | {fmt(c['compiled_vs_eager']['cpu'], 2, 'x')} | "
            f"{_pair(c['host_vs_compiled'], 2, 'x')} | {cold_text} | {warm_text} |")


def compile_part(sm, g, version):
    """Section 2's torch.compile arm: a table where it ran, else why it did not."""
    cs, cg = sm.get("compiled"), g.get("compiled")
    if cs is None and cg is None:  # results from before the arm existed
        return ""
    reasons = {c["unavailable"] for c in (cs, cg) if c and "unavailable" in c}
    rows = [r for r in (_compile_figures("small (dispatch-bound)", cs), _compile_figures("GEMM-bound", cg)) if r]
    if not rows:
        reason = "; ".join(sorted(reasons))
        if reason.startswith("not available (PyTorch 1"):
            return f"\n**torch.compile arm: {reason}**: PyTorch 1.x has no `torch.compile`; the PyTorch 2.x part of this page has it.\n"
        return f"\n**torch.compile arm: could not run on this machine**: {reason}. The eager figures above stand; the arm is left out.\n"
    notes = []
    for name, c in (("small", cs), ("GEMM-bound", cg)):
        if "unavailable" in c:
            notes.append(f"{name}: **could not compile**: {c['unavailable']}")
        elif c.get("failed_later"):
            notes.append(f"{name}: failed in a later round ({c['failed_later']}); figures over {c['rounds']} round(s)")
        if c.get("recompiled_in_steady_state"):
            notes.append(f"{name}: dynamo **recompiled during the timed steps** (the steady figure includes it)")
    stand = []
    for name, c in (("small model", cs), ("GEMM-bound model", cg)):
        if "unavailable" not in c:
            stand.append(f"on the {name} the compiled script runs at {_ratio_text(c['compiled_vs_eager']['cpu']['median'])} "
                         f"eager's rate and the host at {_ratio_text(c['host_vs_compiled']['cpu']['median'])} the compiled script's "
                         f"(CPU time; {_ratio_text(c['host_vs_compiled']['wall']['median'])} by wall clock)")
    return f"""
`torch.compile(model)` (default inductor backend, on the CPU; the optimizer step stays eager), a fourth arm of the
same rounds. Compilation happens in the first step, inside the warm-up, so the steady rate excludes it; its time is
the whole first step: with an empty inductor cache in round 1 ("cold", what a first run costs; CPU time includes
the C++ compiler's processes) and with the cache that round 1 filled in the later rounds ("cached").

| model | torch.compile samples/s, wall | torch.compile, CPU | torch.compile / eager, CPU | host / torch.compile, wall | host / torch.compile, CPU | compile time, cold cache | compile time, cached |
|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}

Where torch.compile stands (PyTorch {version}; no goal is set against it): {'; '.join(stand)}.{(' ' + '; '.join(notes) + '.') if notes else ''}
Commands: {_code(sm['commands'].get('compiled', ''))}; {_code(g['commands'].get('compiled', ''))}.
"""


def _slower_sentence(small, gemm):
    figures = (f"{small['wall']:+.1%} (wall) / {small['cpu']:+.1%} (CPU time) on the\nsmall model and "
               f"{gemm['wall']:+.1%} / {gemm['cpu']:+.1%} on the GEMM-bound one")
    if min(list(small.values()) + list(gemm.values())) >= 0:
        return f"The host is slower than the hand-written loop by {figures}."
    return f"The host's step time against the hand-written loop's (+ slower, - faster): {figures}."


def _malloc_note(m):
    al = m.get("allocators") or {}
    if al and al.get("host") != al.get("baseline"):
        return (f"\nThe host links {al['host']}'s malloc and the baseline {al['baseline']}'s (`ldd`): this ratio compares the "
                "allocators (a step frees and takes its buffers again) as well as the host's own per-step cost.")
    return ""


def section_1_3(s, part="torch1", m=None):
    if "error" in s:
        return "\n### 1-3. Plugin overhead, PyTorch, FLOP/s\n" + _error(s)
    m = m or {}
    compact = part != "torch1"
    sm, g = s["small"], s["gemm"]
    slower = {k: 1 / sm["host_vs_baseline"][k]["median"] - 1 for k in ("wall", "cpu")}
    slower_gemm = {k: 1 / g["host_vs_baseline"][k]["median"] - 1 for k in ("wall", "cpu")}
    vs_py = {k: sm["host_vs_python"][k]["median"] for k in ("wall", "cpu")}
    vs_py_gemm = {k: g["host_vs_python"][k]["median"] for k in ("wall", "cpu")}
    gflops = g["flops_per_step"] / 1e9
    per_sample = gflops / 256
    version = m.get("python_torch") or m.get("python3-torch") or "1.13"
    same = ("the same LibTorch as the host" if m.get("same_libtorch", True) else "**another LibTorch than the host's**")
    python_desc = (f"on `{m['python']}` (torch {version}, {same})" if "python" in m
                   else "on Debian's python3-torch (the same LibTorch)")
    goal_small = vs_py["cpu"] >= 1.5
    goal_gemm = vs_py_gemm["cpu"] >= 0.995
    intro_1 = "" if compact else """
The host trains `bench/models/small.yaml` (std.gaussian, two std.mlp encoders [64] -> 32, std.concat, 4
classes, Adam, batch 64) through its plugins, hooks, data loader (`run.prefetch: 0`: the batch is read on the
training thread, as suits a process pinned to one core; section 4 runs the default loader thread), loss checks
and logging; `bench/baseline_train.cpp` (LibTorch only, built as `mmdebias-bench-baseline`) trains the same
layers with the same optimizer and batch in a plain loop (no plugins, no hooks, one `index_select` per batch).
"""
    if compact:
        intro_1 = "\nThe models, arms and timing of the LibTorch 1.13 part's sections 1-3, on this build and its Python.\n"
    intro_3 = "" if compact else f"""
`bench/models/gemm.yaml`: two 256-wide modalities, std.mlp [1024, 1024] -> 256 each, std.concat, 16
classes, batch 256. FLOPs per step counted per Linear layer: forward 2·B·in·out, backward 2·B·in·out for
the weight gradient plus 2·B·in·out for the input gradient (none for each encoder's first layer, whose
input is data): **{gflops:.3f} GFLOP per step** (bias, ReLU, loss and Adam are elementwise and left out).
The peak is LibTorch's own float32 `torch::mm` of square matrices ({_code(g['commands']['mm'])}), median
of 5 products, measured in every round beside the training arms; wall-clock rates are compared with
wall-clock rates and CPU-time rates with CPU-time rates, within each round.
"""
    if compact:
        intro_3 = f"\n{gflops:.3f} GFLOP per step; the peak is {_code(g['commands']['mm'])}, in every round.\n"
    return f"""
### 1. Plugin overhead: the host vs a hand-written LibTorch loop
{intro_1}
| model | host samples/s, wall | host, CPU | baseline, wall | baseline, CPU | host / baseline, wall | host / baseline, CPU |
|---|---|---|---|---|---|---|
| small (dispatch-bound) | {_pair(sm['host'], 0)} | {_pair(sm['baseline'], 0)} | {_pair(sm['host_vs_baseline'])} |
| GEMM-bound | {_pair(g['host'], 1)} | {_pair(g['baseline'], 1)} | {_pair(g['host_vs_baseline'])} |

{_slower_sentence(slower, slower_gemm)}{_malloc_note(m)}
Goal (<= 3% slower, small model): {_goal(slower['cpu'] <= 0.03, f"{slower['cpu']:+.1%} by CPU time, {slower['wall']:+.1%} by wall clock")}.

Commands: host {_code(sm['commands']['host'])}; baseline {_code(sm['commands']['baseline'])};
GEMM-bound host {_code(g['commands']['host'])}; baseline {_code(g['commands']['baseline'])}.

### 2. The host vs the equivalent PyTorch script

`bench/pytorch_train.py`: the same model, loop and timing in Python {python_desc}, same threads.
Eager PyTorch, with the goal of each row (by CPU time; within 0.5% of 1.0x counts as met on the GEMM-bound model:
the two run the same kernels and the rounds spread wider than that):

| model | host samples/s, wall | host, CPU | PyTorch eager, wall | PyTorch eager, CPU | host / eager, wall | host / eager, CPU | goal |
|---|---|---|---|---|---|---|---|
| small (dispatch-bound) | {_pair(sm['host'], 0)} | {_pair(sm['python'], 0)} | {_pair(sm['host_vs_python'], 2, 'x')} | >= 1.5x: {_goal(goal_small, f"{vs_py['cpu']:.2f}x")} |
| GEMM-bound | {_pair(g['host'], 1)} | {_pair(g['python'], 1)} | {_pair(g['host_vs_python'], 2, 'x')} | >= 1.0x: {_goal(goal_gemm, f"{vs_py_gemm['cpu']:.2f}x")} |

Goals: small model >= 1.5x: {_goal(goal_small, f"{vs_py['cpu']:.2f}x by CPU time, {vs_py['wall']:.2f}x by wall clock")};
GEMM-bound >= 1.0x: {_goal(goal_gemm, f"{vs_py_gemm['cpu']:.2f}x by CPU time, {vs_py_gemm['wall']:.2f}x by wall clock")}.
Commands: {_code(sm['commands']['python'])}; {_code(g['commands']['python'])}.
{compile_part(sm, g, version)}
### 3. The GEMM-bound step vs the machine's measured peak
{intro_3}
| | GFLOP/s, wall | GFLOP/s, CPU | fraction of the mm peak, wall | fraction, CPU |
|---|---|---|---|---|
| `torch::mm` peak | {fmt(_giga(g['mm']['wall']), 1)} | {fmt(_giga(g['mm']['cpu']), 1)} | 1 | 1 |
| host training step | {g['host']['wall']['median'] * per_sample:.1f} | {g['host']['cpu']['median'] * per_sample:.1f} | {_pair(g['host_fraction_of_peak'])} |
| LibTorch baseline step | {g['baseline']['wall']['median'] * per_sample:.1f} | {g['baseline']['cpu']['median'] * per_sample:.1f} | {_pair(g['baseline_fraction_of_peak'])} |

Goal (>= 70% of the peak): {_goal(g['host_fraction_of_peak']['cpu']['median'] >= 0.7, f"{g['host_fraction_of_peak']['cpu']['median']:.0%} by CPU time, {g['host_fraction_of_peak']['wall']['median']:.0%} by wall clock")}.
"""


def section_4(s):
    if "error" in s:
        return "\n### 4. Data pipeline\n" + _error(s)
    rows = "\n".join(f"| `{name}` | {fmt({k: (v * 100 if k != 'n' else v) for k, v in d['wait_fraction'].items()}, 2, '%')} | "
                     f"{fmt(d['samples_per_s'], 0)} | {_goal(d['wait_fraction']['median'] < 0.02, 'median < 2%')} | {_code(d['command'])} |"
                     for name, d in s.items())
    return f"""
### 4. Data pipeline: time the trainer waits for data

`train.data_wait_fraction` of `summary.json`: the time the training step spent blocked on the loader's
queue over the whole training time, with the default `run.prefetch` (4) and one loader thread. samples/s here
is whole-run (not steady state), for scale.

| dataset | waiting for data | samples/s | goal < 2% | command |
|---|---|---|---|---|
{rows}
"""


def section_5(s):
    if "error" in s:
        return "\n### 5. Method overheads\n" + _error(s)
    rows = "\n".join(f"| {name} | {_pair(s['rates'][name], 0)} | {_pair(s['step_time_ratio'][name], 2, 'x') if name in s['step_time_ratio'] else '1 | 1'} | {_code(s['commands'][name])} |"
                     for name in s["rates"])
    c = s["causalmm"]
    passes = {k: (v.get("model_forward_calls", 0) / max(1, v.get("batches", 1))) for k, v in c["host"].items()}
    return f"""
### 5. Method overheads

Steady step time of each method on the same pipeline (`bench/models/methods.yaml`: fashion-captions, std.mlp
image encoder, std.tokens text encoder, std.concat, batch 100), relative to joint training, alternating.

| arm | samples/s, wall | samples/s, CPU | step time / joint, wall | step time / joint, CPU | command |
|---|---|---|---|---|---|
{rows}

CausalMM at inference (the default uniform edit with 2 levels; `sweep_edits: []`): `mmdebias eval` wall
time of the same kind of run with and without the intervention, whole commands (process start and data
loading count in both): factual {fmt(c['seconds']['factual'], 2, ' s')}, CausalMM {fmt(c['seconds']['CausalMM'], 2, ' s')},
**ratio {fmt(c['ratio'], 2, 'x')}**. Extra model passes per evaluated batch (exact, `eval.host` of the
final evaluation): factual {passes.get('factual', 0):.1f}, CausalMM {passes.get('CausalMM', 0):.1f}.
Command: {_code(c['command'])}.
"""


def section_6(s):
    if "error" in s:
        return "\n### 6. Distributed\n" + _error(s)
    rows = "\n".join(f"| {k} | {fmt(v, 0)} |" for k, v in s["rates"].items())
    brows = "\n".join(f"| {k} | {fmt(s['buckets'][k], 0)} | {fmt(s['buckets_vs_25'][k], 3, 'x')} |" for k in s["buckets"])
    eff = s["speedup_vs_1x1"]["median"] / 2
    return f"""
### 6. Distributed: 2 ranks vs 1 on this machine

examples/default.yaml with 512-wide encoders (std.mlp [512, 512]), global batch 256 (2 x 128 for two ranks),
gloo allreduce over loopback; each rank one thread pinned to its own core.

| arm | samples/s (global) |
|---|---|
{rows}

2 ranks x 1 thread vs 1 rank x 1 thread: **{fmt(s['speedup_vs_1x1'], 2, 'x')}**, scaling efficiency {eff:.0%};
vs 1 rank x 2 threads: {fmt(s['speedup_vs_1x2'], 2, 'x')}.
Commands: {_code(s['command_one'])}; {_code(s['command_two'])}.

Gradient bucket size (`run.bucket_mb`), 2 ranks:

| bucket | samples/s | vs 25 MiB |
|---|---|---|
{brows}
"""


def section_7(s):
    if "error" in s:
        return "\n### 7. Start-up\n" + _error(s)
    rows = "\n".join(f"| {k} | {fmt(v, 3, ' s')} | {_code(s['commands'][k])} |" for k, v in s["seconds"].items())
    return f"""
### 7. Start-up

Wall time of whole commands. "First step" is from process start to the first train line in
`metrics.jsonl` (`train.log_every=1`, polled every millisecond): manifest, plugin loading, data preparation,
model build and one step. `examples/composed.yaml` names every shipped plugin (std, data, arl, a2d, causalmm,
infomin; mcr is loaded by `plugins`).

| what | seconds | command |
|---|---|---|
{rows}
"""


GPU = """
### 8. GPU

Debian's LibTorch is CPU-only: no GPU figures in this part. The host, the plugins and `bench/baseline_train.cpp` use
only device-neutral LibTorch calls (`run.device` / `--device` pick the device), so a build against a CUDA LibTorch
runs on a GPU; the block "GPU (scripts/gpu-check)" below is measured that way, against a torch 2.x install on a GPU
machine (`scripts/gpu-check`; docs/distributed.md, "GPU").
"""


def gpu_torch2(m):
    """Section 8 of the 2.x part: what the wheel's LibTorch supports, and the command for a CUDA machine."""
    import re
    cuda = re.search(r"CUDA_VERSION=([0-9.]+)", m.get("torch_config", ""))
    what = (f"The wheel's LibTorch is built with CUDA {cuda.group(1)} (`torch.__config__.show()`), so the same build runs on a GPU"
            if cuda else "The wheel's LibTorch reports no CUDA (`torch.__config__.show()`): a CPU-only wheel")
    return f"""
### 8. GPU

This part ran on the CPU: **no GPU figures** here. {what}; the block "GPU (scripts/gpu-check)" below holds the
figures of a GPU machine: `scripts/gpu-check` builds there against that machine's torch 2.x and runs
`bench/run --device cuda` sections 1-3 among its checks (`torch.compile` then generates Triton kernels).
"""


def placeholder(part):
    return f"""## {_TITLE[part]}

Not measured in this file: {_HOW_TO[part]} writes this part.
"""


def extract(text, part):
    """The part between the markers of an existing page, or None."""
    if not text:
        return None
    begin, end = MARK.format(part=part, edge="begin"), MARK.format(part=part, edge="end")
    i, j = text.find(begin), text.find(end)
    if i < 0 or j < i:
        return None
    return text[i + len(begin):j].strip("\n") + "\n"


def extract_gpu(text):
    """scripts/gpu-check's block of an existing page, or None."""
    if not text:
        return None
    begin, end = GPU_MARK.format(edge="begin"), GPU_MARK.format(edge="end")
    i, j = text.find(begin), text.find(end)
    if i < 0 or j < i:
        return None
    return text[i + len(begin):j].strip("\n") + "\n"


def render_part(r, part):
    m = r["machine"]
    parts = [header(r, part)]
    for key, fn in (("1-3", section_1_3), ("4", section_4), ("5", section_5), ("6", section_6), ("7", section_7)):
        if key in r:
            parts.append(fn(r[key], part, m) if key == "1-3" else fn(r[key]))
    if r.get("device", "cpu") == "cpu":
        parts.append(GPU if part == "torch1" else gpu_torch2(m))
    return "\n".join(parts)


def section_9(s, m):
    if "error" in s:
        return "\n### 9. Mixed precision: run.precision\n" + _error(s)
    rows = "\n".join(f"| {k} | {_pair(s['rates'][k], 0)} | {_pair(s['speedup'][k], 2, 'x') if k in s['speedup'] else '1 | 1'} | {_code(s['commands'][k])} |"
                     for k in s["rates"])
    kernels = ""
    if "kernels" in s:
        def listed(counts):
            return ", ".join(f"`{k}` x{n} ({ms:.1f} ms)" for k, (n, ms) in sorted(counts.items(), key=lambda kv: -kv[1][1])) \
                or "none (no oneDNN primitive ran: the BLAS library's GEMMs)"
        lines = "\n".join(f"- {k}: {listed(c)}" for k, c in s["kernels"].items())
        kernels = f"""
Which kernels run the matmuls: oneDNN's own log (`ONEDNN_VERBOSE=1`), calls and summed time over 3 steps (the first
step includes oneDNN's kernel generation). Command: {_code(s['kernels_command'])} (and the other model / precision).

{lines}
"""
    if "profile" in s:
        for m, d in s["profile"].items():
            names = []
            for p in ("bf16", "fp32"):
                names += [o["op"] for o in d[p]["ops"][:6] if o["op"] not in names]
            by = {p: {o["op"]: o for o in d[p]["ops"]} for p in ("fp32", "bf16")}
            def cell(p, n):
                o = by[p].get(n)
                return f"{o['calls_per_step']:.0f} / {o['self_us_per_step']:.0f}" if o else "-"
            rows_p = "\n".join(f"| {n} | {cell('fp32', n)} | {cell('bf16', n)} |" for n in names)
            kernels += f"""
Where a step's time goes, {m} model (torch.profiler on the same LibTorch, PyTorch {d['torch']}, self CPU time; calls / µs
per step; whole step fp32 {d['fp32']['us_per_step']:.0f} µs, bf16 {d['bf16']['us_per_step']:.0f} µs): {_code(s['profile_commands'][m])}

| op | fp32 | bf16 |
|---|---|---|
{rows_p}
"""
    return f"""
### 9. Mixed precision: run.precision

Steady samples/s of the same runs with `run.precision` fp32 and in lower precision (autocast around the forward and the
loss hooks; parameters, gradients and Adam stay fp32), alternating; speed-up = lower precision / fp32 of the same round.
Models as in sections 1-3 (`bench/models/small.yaml`, `bench/models/gemm.yaml`).

| arm | samples/s, wall | samples/s, CPU | speed-up, wall | speed-up, CPU | command |
|---|---|---|---|---|---|
{rows}
{kernels}"""


def document(r, existing=None):
    """The whole page: the part of the LibTorch `r` was measured on, rendered from `r`, and the other part taken
    as it stands from `existing` (the page being replaced), or a note that it was not measured. Section 9 has a
    block of its own: a run of it alone keeps the part's other sections, and a run without it keeps the block."""
    part = r["machine"].get("torch_part", "torch1")
    body = {p: extract(existing, p) for p in PARTS}
    prec = {p: _between(existing, PRECISION_MARK.format(part=p, edge="begin"), PRECISION_MARK.format(part=p, edge="end"))
            for p in PARTS}
    if any(k in r for k in MAIN_SECTIONS) or not body[part]:
        body[part] = render_part(r, part)
    if "9" in r:
        m = r["machine"]
        prec[part] = section_9(r["9"], m) + (
            f"\nMeasured by `{r.get('command', 'bench/run --only 9')}` against `{m.get('build', '?')}` ({m.get('libtorch_text', '?')}) "
            f"on {m.get('cpu', 'this machine')}, {m.get('cores', '?')} cores, {m.get('date', '?')} (commit {m.get('host_commit', '?')}), "
            f"load average {m.get('load_before', '?')} before, {m.get('load_after', '?')} after.\n")
    from analysis import ANALYSIS
    out = [INTRO]
    for p in PARTS:
        out += ["", MARK.format(part=p, edge="begin"), body[p] or placeholder(p), MARK.format(part=p, edge="end")]
        out += ["", PRECISION_MARK.format(part=p, edge="begin"),
                prec[p] or f"\n### 9. Mixed precision: run.precision\n\nNot measured in this file: `bench/run --only 9` with {_HOW_TO[p]}.\n",
                PRECISION_MARK.format(part=p, edge="end")]
    out += ["", GPU_MARK.format(edge="begin"), extract_gpu(existing) or GPU_PLACEHOLDER, GPU_MARK.format(edge="end")]
    out.append(ANALYSIS)
    return "\n".join(out)


def _between(text, begin, end):
    """What lies between two marker lines of an existing page, or None."""
    if not text:
        return None
    i, j = text.find(begin), text.find(end)
    if i < 0 or j < i:
        return None
    return text[i + len(begin):j].strip("\n") + "\n"
