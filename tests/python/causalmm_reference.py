#!/usr/bin/python3
"""Reference CausalMM computations for tests/methods/causalmm/test_python_reference.cpp, written from the formulas
in docs/methods/causalmm.md (not from the C++), row by row, in float64 with torch autograd.

Usage: /usr/bin/python3 causalmm_reference.py CASES.json
CASES.json: {"edits": [{"edit", "weights" [B,H,Q,K], "mask" [B,H,Q,K] of 0/1, "draw" (noise [B,H,Q,K] for random,
priorities [H,K] for shuffle, [] otherwise), "probe" [B,H,Q,K]}, ...],
"contrasts": [{"l" [B,C], "l_f" [B,C], "cf" [n][B,C], "gamma", "epsilon", "label" [B]}, ...]}.
Prints {"edits": [{"out", "grad"}], "contrasts": [{"s", "ce", "grad_l", "grad_cf"}]} where
  edits:     out = the edited map; grad = d sum(out * probe) / d weights
  contrasts: s = the cut contrast; ce = CE(l + gamma * sum(l - cf), label) (the training term, l_f = l, no cut),
             grad_l / grad_cf = its gradients with respect to l and to each cf.
The formulas:
  every edit keeps masked positions at 0 and the row's mass M = sum over allowed k of A_k;
  random:   U_k / sum_allowed U * M;  uniform: M / n_allowed;
  reversed: R_k = max_allowed A - A_k, R / sum R * M (a row with sum R = 0 becomes M / n_allowed);
  shuffle:  allowed keys a_1 < ... < a_m; sources t_1..t_m = allowed keys sorted by the head's priority u_h;
            out[a_i] = A[t_i];
  contrast: s = l + gamma * sum_levels (l_f - cf); keep c when softmax(l)_c >= epsilon * max softmax(l)
            (everything when epsilon = 0); a cut class gets (min over kept s) - 1e4.
Exit code 3 when torch is missing (install Debian's python3-torch).
"""
import json
import sys

try:
    import torch
except ImportError as e:  # the C++ test turns this into a failure telling what to install
    print(f"causalmm_reference: {e}; install python3-torch (apt-get install python3-torch)", file=sys.stderr)
    sys.exit(3)

CUT_OFFSET = 1e4


def spread(row, allowed, mass):
    """row (non-negative, zero off `allowed`) rescaled to total `mass`; uniform over `allowed` when it sums to 0."""
    total = sum(row[k] for k in allowed) if allowed else 0.0
    out = [torch.zeros((), dtype=torch.float64) for _ in row]
    for k in allowed:
        out[k] = row[k] / total * mass if float(total) > 0 else mass / len(allowed)
    return out


def edit_row(kind, a, allowed, draw_row, priority):
    """One row a (list of 0-d tensors) of one head; allowed: indices of allowed keys."""
    mass = sum(a[k] for k in allowed) if allowed else torch.zeros((), dtype=torch.float64)
    if kind == "random":
        return spread([draw_row[k] if k in allowed else 0.0 for k in range(len(a))], allowed, mass)
    if kind == "uniform":
        return [mass / len(allowed) if k in allowed else torch.zeros((), dtype=torch.float64) for k in range(len(a))]
    if kind == "reversed":
        if not allowed:
            return [torch.zeros((), dtype=torch.float64) for _ in a]
        top = max(a[k] for k in allowed)
        return spread([top - a[k] if k in allowed else 0.0 for k in range(len(a))], allowed, mass)
    if kind == "shuffle":
        out = [torch.zeros((), dtype=torch.float64) for _ in a]
        sources = sorted(allowed, key=lambda k: priority[k])
        for target, source in zip(sorted(allowed), sources):
            out[target] = a[source]
        return out
    raise ValueError(kind)


def edit(case):
    w = torch.tensor(case["weights"], dtype=torch.float64, requires_grad=True)
    mask = torch.tensor(case["mask"], dtype=torch.float64)
    draw = torch.tensor(case["draw"], dtype=torch.float64) if case["draw"] else None
    B, H, Q, K = w.shape
    rows = []
    for b in range(B):
        for h in range(H):
            for q in range(Q):
                allowed = [k for k in range(K) if mask[b, h, q, k] > 0]
                a = [w[b, h, q, k] for k in range(K)]
                noise = [float(draw[b, h, q, k]) for k in range(K)] if case["edit"] == "random" else None
                prio = [float(draw[h, k]) for k in range(K)] if case["edit"] == "shuffle" else None
                rows.append(torch.stack(edit_row(case["edit"], a, allowed, noise, prio)))
    out = torch.stack(rows).view(B, H, Q, K)
    probe = torch.tensor(case["probe"], dtype=torch.float64)
    (grad,) = torch.autograd.grad((out * probe).sum(), w)
    return {"out": out.detach().tolist(), "grad": grad.tolist()}


def contrast(case):
    l = torch.tensor(case["l"], dtype=torch.float64, requires_grad=True)
    l_f = torch.tensor(case["l_f"], dtype=torch.float64)
    cf = [torch.tensor(c, dtype=torch.float64, requires_grad=True) for c in case["cf"]]
    gamma, epsilon = case["gamma"], case["epsilon"]
    s = l.detach() + gamma * sum((l_f - c.detach() for c in cf), torch.zeros_like(l_f))
    p = torch.softmax(l.detach(), dim=1)
    out = s.clone()
    for b in range(s.shape[0]):
        keep = [c for c in range(s.shape[1]) if epsilon == 0 or p[b, c] >= epsilon * p[b].max()]
        low = min(float(s[b, c]) for c in keep)
        for c in range(s.shape[1]):
            if c not in keep:
                out[b, c] = low - CUT_OFFSET
    train = l + gamma * sum((l - c for c in cf), torch.zeros_like(l))
    label = torch.tensor(case["label"], dtype=torch.long)
    logp = train - torch.logsumexp(train, dim=1, keepdim=True)
    ce = -logp[torch.arange(len(label)), label].mean()
    grads = torch.autograd.grad(ce, [l] + cf)
    return {"s": out.tolist(), "ce": float(ce), "grad_l": grads[0].tolist(), "grad_cf": [g.tolist() for g in grads[1:]]}


def main():
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    print(json.dumps({"edits": [edit(c) for c in cases["edits"]], "contrasts": [contrast(c) for c in cases["contrasts"]]}))


if __name__ == "__main__":
    main()
