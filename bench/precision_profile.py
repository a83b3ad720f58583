#!/usr/bin/python3
"""Where a bf16 step's time goes on the CPU: the model of bench/pytorch_train.py (the same sizes as bench/run's small
and GEMM-bound models), trained a few steps under torch.autocast("cpu", bfloat16) and in fp32, with torch.profiler;
prints the ops that take the most self CPU time in each, per step, as one JSON line. Run by the Python whose torch is
the host's LibTorch (Debian's python3-torch for Debian's 1.13), it shows which kernels that LibTorch runs for each
precision — what section 9's speed-ups come from.

  /usr/bin/python3 bench/precision_profile.py --model small --steps 50 --threads 1
"""
import argparse
import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pytorch_train import ConcatModel  # noqa: E402

SIZES = {"small": dict(dim=16, hidden=[64], out_dim=32, classes=4, batch=64),
         "gemm": dict(dim=256, hidden=[1024, 1024], out_dim=256, classes=16, batch=256)}


def profile(model_name, precision, steps, top):
    s = SIZES[model_name]
    torch.manual_seed(0)
    model = ConcatModel(2, s["dim"], s["hidden"], s["out_dim"], s["classes"])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    xs = [torch.randn(s["batch"], s["dim"]) for _ in range(2)]
    y = torch.randint(0, s["classes"], (s["batch"],))

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            loss = F.cross_entropy(model(xs).float(), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    for _ in range(5):  # warm-up: oneDNN generates its kernels on first use
        step()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    events = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
    total = sum(e.self_cpu_time_total for e in events)
    return {"us_per_step": total / steps,
            "ops": [{"op": e.key, "calls_per_step": e.count / steps, "self_us_per_step": e.self_cpu_time_total / steps}
                    for e in events[:top]]}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=sorted(SIZES), default="small")
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--top", type=int, default=8)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    out = {"model": a.model, "torch": torch.__version__,
           "fp32": profile(a.model, "fp32", a.steps, a.top), "bf16": profile(a.model, "bf16", a.steps, a.top)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
