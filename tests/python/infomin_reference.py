#!/usr/bin/python3
"""Reference values for tests/methods/infomin/test_reference.cpp, written from the formulas of CausalInfoMin
(../shared/methods.md, docs/methods/infomin.md), not from the C++.

Usage: /usr/bin/python3 infomin_reference.py INPUT.json
INPUT.json holds the fused features x [B, d], labels y [B], the parameters of infomin.confounder and
infomin.debias (by their module names) and the options eps_sq, kappa_coeff, temperature. In float64:
  b       = LN(GELU(W2 GELU(W1 x)))                          (x detached: sg(x))
  r       = remap(b);   b_logit = Linear2(LN(GELU(Linear1(r))))
  x_tilde = ReLU(g * V / ||V||_F (x - r) + bias)
  R       = 1/2 logdet(I + d / (m eps_sq) r^T r)
  CE_b    = mean cross-entropy of b_logit
  kappa   = min(1, |kappa_coeff * CE_b / R|)                  (a number: no gradient)
  con     = mean_i -log(exp(s+/t) / (exp(s+/t) + exp(s-/t))), s+ = cos(x, x_tilde), s- = cos(x, r)
  L       = kappa R + CE_b + con
Prints JSON: the values, r, b_logit, x_tilde, and dL/dx, dL/d(remap.weight), dL/d(debias.direction).
Also, for "rates": {"z": [[...]], ...} entries, the coding rate of each matrix. Exit code 3 without torch.
"""
import json
import sys

try:
    import torch
    import torch.nn.functional as F
except ImportError as e:  # the C++ test turns this into a failure telling what to install
    print(f"infomin_reference: {e}; install python3-torch (apt-get install python3-torch)", file=sys.stderr)
    sys.exit(3)


def t(v):
    return torch.tensor(v, dtype=torch.float64)


def coding_rate(z, eps_sq):
    m, d = z.shape
    return 0.5 * torch.logdet(torch.eye(d, dtype=z.dtype) + (d / (m * eps_sq)) * z.T @ z)


def main():
    with open(sys.argv[1]) as f:
        inp = json.load(f)
    p = {k: t(v).requires_grad_(True) for k, v in inp["confounder"].items()}
    q = {k: t(v).requires_grad_(True) for k, v in inp["debias"].items()}
    x = t(inp["x"]).requires_grad_(True)
    y = torch.tensor(inp["y"], dtype=torch.long)
    eps_sq, coeff, temp = inp["eps_sq"], inp["kappa_coeff"], inp["temperature"]

    h = F.gelu(F.linear(x.detach(), p["bias_fc1.weight"], p["bias_fc1.bias"]))
    h = F.gelu(F.linear(h, p["bias_fc2.weight"], p["bias_fc2.bias"]))
    b = F.layer_norm(h, h.shape[1:], p["bias_norm.weight"], p["bias_norm.bias"], eps=1e-12)
    r = F.linear(b, p["remap.weight"], p["remap.bias"])
    g = F.gelu(F.linear(r, p["conf_head_fc1.weight"], p["conf_head_fc1.bias"]))
    g = F.layer_norm(g, g.shape[1:], p["conf_head_norm.weight"], p["conf_head_norm.bias"], eps=1e-12)
    b_logit = F.linear(g, p["conf_head_fc2.weight"], p["conf_head_fc2.bias"])

    w = q["scale"] * q["direction"] / q["direction"].norm()
    x_tilde = F.relu(F.linear(x - r, w, q["bias"]))

    rate = coding_rate(r, eps_sq)
    ce_b = F.cross_entropy(b_logit, y)
    kappa = min(1.0, abs(coeff * ce_b.item() / rate.item()))
    z, zp, zn = F.normalize(x, dim=1), F.normalize(x_tilde, dim=1), F.normalize(r, dim=1)
    pos, neg = F.cosine_similarity(z, zp, dim=1), F.cosine_similarity(z, zn, dim=1)
    num = torch.exp(pos / temp)
    con = (-torch.log(num / (num + torch.exp(neg / temp)))).sum() / x.shape[0]
    total = kappa * rate + ce_b + con
    total.backward()

    out = {
        "rate": rate.item(), "kappa": kappa, "bias_ce": ce_b.item(), "contrastive": con.item(), "total": total.item(),
        "r": r.tolist(), "bias_logits": b_logit.tolist(), "x_tilde": x_tilde.tolist(),
        "grad_x": x.grad.tolist(), "grad_remap_weight": p["remap.weight"].grad.tolist(),
        "grad_debias_direction": q["direction"].grad.tolist(),
        "rates": [coding_rate(t(zz), eps_sq).item() for zz in inp.get("rates", [])],
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
