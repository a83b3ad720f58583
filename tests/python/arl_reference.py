#!/usr/bin/python3
"""Reference ARL steps for tests/methods/arl/test_arl_reference.cpp, written from the ARL section of
shared/methods.md (not from the C++), in float64 with torch.

Usage: /usr/bin/python3 arl_reference.py CASE.json
CASE.json: {"estimator": "entropy"|"variance", "mode": "batch"|"ema", "decay": d, "clamp": c, "gamma": g,
            "warmup_gamma": g0, "start": s, "epoch": e,
            "encoders": [{"weight": [[..]], "bias": [..]}, ...]  (one per modality, z_m = tanh(x_m W_m^T + b_m)),
            "head": {"weight": [[..]], "bias": [..]}          (concat head: out = W [z_1; ...; z_M] + b),
            "steps": [{"inputs": [x_1, ..., x_M], "label": [..]}, ...]}
Every step uses the same parameters (no optimizer step); the ema state carries from step to step.
Prints {"steps": [{"uncertainty", "normalized", "weights", "bias", "total", "grads": {...}}, ...]}.

The method, per step:
  out_m = W[0; z_m; 0] + b (shared head), out = W[z_1; ...; z_M] + b
  U_m   = mean_i H(softmax(out_m)_i)                           (entropy)
        = population variance over i of softmax(out_m)_i[y_i]    (variance)
  ema:    U <- U_step at the first step, else decay * U + (1 - decay) * U_step
  Û_m   = max(U_m / sum_k U_k, clamp);  w_m = (1/Û_m) / sum_k (1/Û_k)      (all detached)
  active (epoch >= start): L = CE(out) + gamma * sum_m CE(out_m), gradient into encoder m times (1 + w_m)
  warm-up:                 L = CE(out) + warmup_gamma * sum_m CE(out_m), gradients unscaled
Exit code 3 when torch is missing (install Debian's python3-torch).
"""
import json
import sys

try:
    import torch
    import torch.nn.functional as F
except ImportError as e:  # the C++ test turns this into a failure telling what to install
    print(f"arl_reference: {e}; install python3-torch (apt-get install python3-torch)", file=sys.stderr)
    sys.exit(3)

D = torch.float64


def t(x):
    return torch.tensor(x, dtype=D)


def uncertainty(out_m, label, estimator):
    p = torch.softmax(out_m, dim=1)
    if estimator == "entropy":
        # H = -sum_c p_c log p_c; p log p -> 0 as p -> 0, so guard the log only where p underflows to 0.
        plogp = torch.where(p > 0, p * torch.log(torch.where(p > 0, p, torch.ones_like(p))), torch.zeros_like(p))
        return (-plogp.sum(dim=1)).mean()
    q = p[torch.arange(p.shape[0]), label]
    return ((q - q.mean()) ** 2).mean()


def main():
    with open(sys.argv[1]) as f:
        case = json.load(f)
    enc = [(t(e["weight"]).requires_grad_(), t(e["bias"]).requires_grad_()) for e in case["encoders"]]
    head_w = t(case["head"]["weight"]).requires_grad_()
    head_b = t(case["head"]["bias"]).requires_grad_()
    widths = [w.shape[0] for w, _ in enc]
    active = case["epoch"] >= case["start"]
    ema = None
    results = []
    for step in case["steps"]:
        label = torch.tensor(step["label"], dtype=torch.long)
        z = [torch.tanh(t(x) @ w.T + b) for x, (w, b) in zip(step["inputs"], enc)]
        # Unimodal logits with the shared head: zero every other modality's block of the concatenated input.
        outs = []
        for m in range(len(z)):
            blocks = [z[k] if k == m else torch.zeros_like(z[k]) for k in range(len(z))]
            outs.append(torch.cat(blocks, dim=1) @ head_w.T + head_b)
        with torch.no_grad():
            u = torch.stack([uncertainty(o.detach(), label, case["estimator"]) for o in outs])
            if case["mode"] == "ema":
                ema = u.clone() if ema is None else case["decay"] * ema + (1 - case["decay"]) * u
                u = ema.clone()
            share = u / u.sum() if u.sum() > 0 else torch.full_like(u, 1.0 / len(u))
            norm = torch.clamp(share, min=case["clamp"])
            w = (1 / norm) / (1 / norm).sum()
        # The gradient into encoder m is scaled by (1 + w_m): a hook on z_m, which feeds both the fused and the
        # unimodal logits. Recompute the logits from hooked copies so that every use of z_m is scaled.
        zh = []
        for m, zm in enumerate(z):
            factor = float(1 + w[m]) if active else 1.0
            zs = zm * 1.0
            zs.register_hook(lambda g, f=factor: g * f)
            zh.append(zs)
        out = torch.cat(zh, dim=1) @ head_w.T + head_b
        outs = []
        for m in range(len(zh)):
            blocks = [zh[k] if k == m else torch.zeros_like(zh[k]) for k in range(len(zh))]
            outs.append(torch.cat(blocks, dim=1) @ head_w.T + head_b)
        bias = sum(F.cross_entropy(o, label) for o in outs)
        total = F.cross_entropy(out, label) + (case["gamma"] if active else case["warmup_gamma"]) * bias
        params = [p for pair in enc for p in pair] + [head_w, head_b]
        grads = torch.autograd.grad(total, params)
        names = [f"encoder{m}.{k}" for m in range(len(enc)) for k in ("weight", "bias")] + ["head.weight", "head.bias"]
        results.append({
            "uncertainty": u.tolist(), "normalized": norm.tolist(), "weights": w.tolist(),
            "bias": bias.item(), "total": total.item(),
            "out_minus_sum": (out - sum(outs) + (len(outs) - 1) * head_b).abs().max().item(),
            "grads": {n: g.reshape(-1).tolist() for n, g in zip(names, grads)},
        })
    print(json.dumps({"steps": results}))


if __name__ == "__main__":
    main()
