#!/usr/bin/python3
"""The equivalent PyTorch training script that bench/run compares the host against.

The same model, loop and timing as bench/baseline_train.cpp (read it for the model): per-modality MLPs
(Linear -> ReLU ... -> Linear), concatenation, one Linear head, cross-entropy, torch.optim.Adam with the
manifest's lr; data generated in memory up front, each batch an index_select of a per-epoch permutation.
Timed from the end of step --warmup to the end of step --steps; prints one JSON line.

--compile trains `torch.compile(model)` (default inductor backend) instead of the eager model; the optimizer
step stays eager, as in the eager arm. The first step, which compiles forward and backward, is timed on its own
(`compile_seconds`: the whole first step, compilation included) and lies inside the warm-up, so the steady-state
rate never includes it. Where torch.compile is missing (PyTorch 1.x) or cannot compile here (no C++ compiler,
no Python.h, ...), the script prints one JSON line with `compile_error` and exits 3, so that a caller can report
the arm as unavailable instead of failing.

  /usr/bin/python3 bench/pytorch_train.py --modalities 2 --dim 16 --hidden 64 --out-dim 32 --classes 4 \
      --batch 64 --steps 2000 --warmup 200 --threads 1 [--compile]
"""
import argparse
import json
import os
import sys
import time
import traceback

import torch
import torch.nn.functional as F


class Mlp(torch.nn.Module):
    def __init__(self, dim, hidden, out):
        super().__init__()
        widths = [dim] + hidden
        self.layers = torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in zip(widths, widths[1:]))
        self.out = torch.nn.Linear(widths[-1], out)

    def forward(self, x):
        for layer in self.layers:
            x = F.relu(layer(x))
        return self.out(x)


class ConcatModel(torch.nn.Module):
    def __init__(self, modalities, dim, hidden, out_dim, classes):
        super().__init__()
        self.encoders = torch.nn.ModuleList(Mlp(dim, hidden, out_dim) for _ in range(modalities))
        self.head = torch.nn.Linear(out_dim * modalities, classes)

    def forward(self, inputs):
        return self.head(torch.cat([e(x) for e, x in zip(self.encoders, inputs)], 1))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--modalities", type=int, default=2)
    p.add_argument("--dim", type=int, default=16)
    p.add_argument("--hidden", default="64", help="comma-separated widths")
    p.add_argument("--out-dim", type=int, default=32)
    p.add_argument("--classes", type=int, default=4)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--warmup", type=int, default=None)
    p.add_argument("--samples", type=int, default=4000)
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--lr", type=float, default=0.001)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--compile", action="store_true", help="train torch.compile(model) (inductor) instead of the eager model")
    a = p.parse_args()
    warmup = a.steps // 10 if a.warmup is None else a.warmup
    if warmup >= a.steps:
        p.error("--warmup must be below --steps")
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    dev = torch.device(a.device)
    hidden = [int(h) for h in a.hidden.split(",") if h]

    y = torch.randint(a.classes, (a.samples,)).to(dev)
    x = [torch.randn(a.samples, a.dim).to(dev) for _ in range(a.modalities)]
    model = ConcatModel(a.modalities, a.dim, hidden, a.out_dim, a.classes).to(dev)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=a.lr)
    forward = model
    if a.compile:
        if not hasattr(torch, "compile"):
            compile_failed(f"not available (PyTorch {torch.__version__} has no torch.compile)", None)
        try:
            forward = torch.compile(model)
        except Exception as e:  # noqa: BLE001  (e.g. a platform inductor refuses outright)
            compile_failed(f"torch.compile(model) failed: {type(e).__name__}: {e}", e)

    per_epoch = a.samples // a.batch
    order = None
    t0 = cpu0 = None
    last_loss = 0.0
    first_step = first_step_cpu = None
    graphs_at_warmup = None
    start, start_cpu = time.perf_counter(), cpu_with_children()
    for step in range(a.steps):
        b = step % per_epoch
        if b == 0:
            order = torch.randperm(a.samples).to(dev)
        idx = order.narrow(0, b * a.batch, a.batch)
        try:
            loss = F.cross_entropy(forward([t.index_select(0, idx) for t in x]), y.index_select(0, idx))
            optimizer.zero_grad()
            loss.backward()
        except Exception as e:  # noqa: BLE001
            if not a.compile:
                raise
            compile_failed(f"torch.compile: the compiled model failed at step {step + 1}: {type(e).__name__}: {e}", e)
        optimizer.step()
        if (step + 1) % a.log_every == 0 or step + 1 == a.steps:
            last_loss = loss.item()
        if step == 0:
            loss.item()  # the first step ends here (and on CUDA its kernels have run)
            first_step, first_step_cpu = time.perf_counter() - start, cpu_with_children() - start_cpu
        if step + 1 == warmup:
            if dev.type == "cuda":
                loss.item()
            graphs_at_warmup = compiled_graphs() if a.compile else None
            t0, cpu0 = time.perf_counter(), time.process_time()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    samples = (a.steps - warmup) * a.batch
    out = {"steady_samples_per_s": samples / seconds, "steady_samples_per_cpu_s": samples / cpu, "steady_seconds": seconds,
           "steady_steps": a.steps - warmup, "threads": torch.get_num_threads(), "last_loss": last_loss,
           "torch": torch.__version__, "compiled": a.compile, "first_step_seconds": first_step, "first_step_cpu_seconds": first_step_cpu}
    if a.compile:
        graphs = compiled_graphs()
        out.update(compile_seconds=first_step, compile_cpu_seconds=first_step_cpu, compiled_graphs=graphs, cache=cache_counters(),
                   recompiled_in_steady_state=None if graphs is None or graphs_at_warmup is None else graphs != graphs_at_warmup)
    print(json.dumps(out))


def cpu_with_children():
    """CPU seconds of this process and of its finished children (inductor's C++ compiler runs)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def compiled_graphs():
    """How many graphs dynamo compiled so far (a count that grows on a recompilation), or None if not exposed."""
    try:
        from torch._dynamo.utils import counters
        return int(counters["stats"]["unique_graphs"])
    except Exception:  # noqa: BLE001
        return None


def cache_counters():
    """Inductor's FX graph cache and AOTAutograd's cache hits and misses in this process (None if not exposed): a
    cached compile time means something only where the cache was hit."""
    try:
        from torch._dynamo.utils import counters
        return {k: int(v) for group in ("inductor", "aot_autograd") for k, v in counters[group].items() if "cache" in k}
    except Exception:  # noqa: BLE001
        return None


def compile_failed(reason, error):
    """The compiled arm cannot run here: one JSON line saying why (the end of the error too), exit 3."""
    detail = "".join(traceback.format_exception(error))[-4000:] if error is not None else ""
    first = reason.strip().splitlines()[0][:400] if reason.strip() else "torch.compile failed"
    if "Python.h" in reason + detail:
        first += " (inductor found no Python.h: install this Python's headers, python3.11-dev for Debian's Python 3.11)"
    print(json.dumps({"compile_error": first, "compile_error_detail": detail, "torch": torch.__version__}))
    sys.stdout.flush()
    sys.exit(3)


if __name__ == "__main__":
    main()
