"""Independent float64 reference of MCR's terms (written from the formulas in ../shared/methods.md and
docs/methods/mcr.md, not from the C++): J, the regularizer R of each game, the supervised contrastive
NT-Xent and the CEB term, with their gradients with respect to each encoder's weights, the head and the
CEB decoder. Reads the fixed tensors as JSON (argv[1]) and prints JSON. Exit code 3: torch is missing."""
import json
import math
import sys

try:
    import torch
except ImportError:
    sys.exit(3)

torch.set_default_dtype(torch.float64)
FLOOR = 1e-20


def js(x, base):
    """Jensen-Shannon of softmax rows, clamped at 1e-20, KL summed over classes, averaged over rows."""
    total = 0.0
    n = x.shape[0]
    for i in range(n):
        p = torch.softmax(x[i], 0)
        q = torch.softmax(base[i], 0)
        m = torch.clamp((p + q) / 2, FLOOR, 1)
        p = torch.clamp(p, FLOOR, 1)
        q = torch.clamp(q, FLOOR, 1)
        total = total + 0.5 * (torch.sum(p * torch.log(p / m)) + torch.sum(q * torch.log(q / m)))
    return total / n


def rows_of(perms, labels, shuffle):
    """(target, source) pairs kept from each permutation, in order."""
    pairs = []
    for perm in perms:
        for i, j in enumerate(perm):
            if shuffle == "rsl" and labels[j] == labels[i]:
                continue
            if shuffle == "rsi" and j == i:
                continue
            pairs.append((i, j))
    return pairs


def model(d):
    p = {k: torch.tensor(d[k], requires_grad=True) for k in ("Wa", "Wv", "W", "b", "dec1", "dec2")}
    xa, xv = torch.tensor(d["xa"]), torch.tensor(d["xv"])
    za, zv = torch.tanh(xa @ p["Wa"]), torch.tanh(xv @ p["Wv"])
    return p, za, zv


def head(p, za, zv):
    """std.concat: W [za; zv] + b."""
    return torch.cat([za, zv], 1) @ p["W"].T + p["b"]


def regularizer(d, game):
    """lambda * R for two modalities a, v: each J between a permuted pass and the base prediction."""
    p, za, zv = model(d)
    base = head(p, za, zv)
    pairs = rows_of(d["perms"], d["labels"], d["shuffle"])
    t = [i for i, _ in pairs]
    s = [j for _, j in pairs]
    sg = lambda z: z.detach()
    base_rows = base[t]
    J = lambda a, v: js(head(p, a, v), base_rows)
    sa_detv, sa_deta, sa_all = J(za[s], sg(zv)[t]), J(sg(za)[s], zv[t]), J(za[s], zv[t])
    sv_deta, sv_detv, sv_all = J(sg(za)[t], zv[s]), J(za[t], sg(zv)[s]), J(za[t], zv[s])
    lam = d["lambda"]
    if game == "greedy":
        r = lam * (-sa_detv + sa_deta - sv_deta + sv_detv)
    elif game == "independent":
        r = -lam * (sa_detv + sv_deta)
    else:
        r = -lam * (sa_all + sv_all)
    r.backward()
    return {"value": r.item(), "js_a": sa_all.item(), "js_v": sv_all.item(),
            "grad": {k: p[k].grad.tolist() for k in ("Wa", "Wv", "W", "b")}}


def contrastive(d):
    """Mean over positive pairs (same label, i != j) of -log(e^s_ij / (e^s_ij + sum over negatives of e^s_ik))."""
    p, za, zv = model(d)
    e = torch.cat([za / za.norm(dim=1, keepdim=True), zv / zv.norm(dim=1, keepdim=True)], 0)
    y = list(d["labels"]) * 2
    tau = d["tau"]
    losses = []
    for i in range(len(y)):
        negatives = [k for k in range(len(y)) if y[k] != y[i]]
        for j in range(len(y)):
            if j == i or y[j] != y[i]:
                continue
            s_ij = torch.dot(e[i], e[j]) / tau
            den = torch.exp(s_ij) + sum((torch.exp(torch.dot(e[i], e[k]) / tau) for k in negatives), torch.tensor(0.0))
            losses.append(-torch.log(torch.exp(s_ij) / den))
    loss = torch.stack(losses).mean()
    loss.backward()
    return {"value": loss.item(), "grad": {k: p[k].grad.tolist() for k in ("Wa", "Wv")}}


def ceb(d):
    """mean((relu(sg(pred) dec1^T) dec2^T - [za | zv])^2)."""
    p, za, zv = model(d)
    pred = head(p, za, zv).detach()
    decoded = torch.relu(pred @ p["dec1"].T) @ p["dec2"].T
    loss = ((decoded - torch.cat([za, zv], 1)) ** 2).mean()
    loss.backward()
    return {"value": loss.item(), "grad": {k: p[k].grad.tolist() for k in ("Wa", "Wv", "dec1", "dec2")}}


def main():
    d = json.load(open(sys.argv[1]))
    x, y = torch.tensor(d["js_x"]), torch.tensor(d["js_y"])
    out = {"js": js(x, y).item(), "js_rows": [js(x[i:i + 1], y[i:i + 1]).item() for i in range(x.shape[0])],
           "ln2": math.log(2)}
    for game in ("greedy", "independent", "collaborative"):
        out[game] = regularizer(d, game)
    out["contrastive"] = contrastive(d)
    out["ceb"] = ceb(d)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
