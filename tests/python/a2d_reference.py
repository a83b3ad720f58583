#!/usr/bin/python3
"""Reference values for tests/methods/a2d, written from the formulas of MultiOOD (methods.md), not from the C++.

Usage: /usr/bin/python3 a2d_reference.py CASE.json
CASE.json holds a list of cases {"kind": "disagree" | "npmix" | "scorers", ...} (one interpreter start for many);
prints a JSON list with one object per case (see each function).
Everything in float64 with torch, loops written per sample/pair where that is the plainest reading.
Exit code 3 when torch is missing (install Debian's python3-torch).
"""
import itertools
import json
import math
import sys

try:
    import torch
except ImportError as e:  # the C++ test turns this into a failure telling what to install
    print(f"a2d_reference: {e}; install python3-torch (apt-get install python3-torch)", file=sys.stderr)
    sys.exit(3)

T = lambda x: torch.tensor(x, dtype=torch.float64)


def discrepancy(kind, p, q):
    """Hellinger (clamped at 1e-6, per-row, mean), L1/L2 (mean over entries), W1 on the index line (per-row, mean)."""
    rows = []
    for a, b in zip(p, q):
        if kind == "hellinger":
            a, b = a.clamp(min=1e-6), b.clamp(min=1e-6)
            rows.append(torch.sqrt(((a.sqrt() - b.sqrt()) ** 2).sum()) / math.sqrt(2.0))
        elif kind == "l1":
            rows.append((a - b).abs().mean())
        elif kind == "l2":
            rows.append(((a - b) ** 2).mean())
        else:  # 1-Wasserstein between two distributions on the points 0, 1, ..., K-1
            total = torch.zeros((), dtype=torch.float64)
            for k in range(len(a) - 1):
                total = total + (a[: k + 1].sum() - b[: k + 1].sum()).abs()
            rows.append(total)
    return torch.stack(rows).mean()


def mean_over_pairs(kind, probs):
    pairs = list(itertools.combinations(range(len(probs)), 2))
    return sum(discrepancy(kind, probs[i], probs[j]) for i, j in pairs) / len(pairs)


def disagree(case):
    """Loss = (CE(fused) + sum_m CE(v_m)) / (M+1) - ratio * mean-pair D(softmax(v_m without y)); grads w.r.t. logits."""
    fused = T(case["fused"]).requires_grad_(True)
    mods = [T(v).requires_grad_(True) for v in case["modalities"]]
    y = torch.tensor(case["labels"], dtype=torch.long)
    ce = torch.nn.functional.cross_entropy
    m = len(mods)
    loss = (ce(fused, y) + sum(ce(v, y) for v in mods)) / (m + 1) if case["unimodal_ce"] else ce(fused, y)
    probs = []
    for v in mods:
        kept = torch.stack([torch.cat([v[i, : y[i]], v[i, y[i] + 1:]]) for i in range(len(y))])
        probs.append(torch.softmax(kept, dim=1))
    gap = mean_over_pairs(case["discrepancy"], probs)
    loss = loss - case["ratio"] * gap
    loss.backward()
    return {"loss": loss.item(), "discrepancy": gap.item(), "grad_fused": fused.grad.tolist(),
            "grad_modalities": [v.grad.tolist() for v in mods]}


def npmix(case):
    """Outliers of a given draw from the queues; candidates from brute-force distances between class means;
    terms -mean-pair D(softmax(W_m o[slice_m] + b)) and -mean_m mean_i H(.)/log C."""
    queues = T(case["queues"])  # [C, Q, D]
    classes = queues.shape[0]
    means = queues.mean(dim=1)
    candidates = []
    for i in range(classes):
        others = sorted((j for j in range(classes) if j != i), key=lambda j: float(((means[i] - means[j]) ** 2).sum()))
        candidates.append(others[: min(case["nn_k"], classes) - 1])
    d = case["draw"]
    outliers = torch.stack([d["lambda"][i] * queues[i, d["first"][i]] +
                            (1 - d["lambda"][i]) * queues[d["neighbour"][i], d["second"][i]] for i in range(classes)])
    logits, offset = [], 0
    for w in case["weights"]:
        w = T(w)
        logits.append(outliers[:, offset: offset + w.shape[1]] @ w.T + T(case["bias"]))
        offset += w.shape[1]
    probs = [torch.softmax(v, dim=1) for v in logits]
    entropy = []
    for v in probs:
        h = -(v * torch.log(v + 1e-9)).sum(dim=1) / math.log(v.shape[1])
        entropy.append(h.mean())
    return {"candidates": candidates, "outliers": outliers.tolist(),
            "ood_discrepancy": -mean_over_pairs(case["discrepancy"], probs).item(),
            "ood_entropy": -(sum(entropy) / len(entropy)).item()}


def percentile(values, q):
    v = torch.sort(values.flatten()).values
    pos = q / 100 * (len(v) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(v) - 1)
    return float(v[lo] + (pos - lo) * (v[hi] - v[lo]))


def energy(logits):
    return torch.logsumexp(logits, dim=1)


def scorers(case):
    x, y, t = T(case["train"]), torch.tensor(case["train_labels"]), T(case["test"])
    w, b = T(case["weight"]), T(case["bias"])
    classes = w.shape[0]
    logits = t @ w.T + b
    out = {}
    # Mahalanobis: class means, covariance of the class-centred training data (divided by N), pinv.
    present = [c for c in range(classes) if (y == c).any()]
    mus = [x[y == c].mean(dim=0) for c in present]
    centred = torch.cat([x[y == c] - mu for c, mu in zip(present, mus)])
    precision = torch.linalg.pinv(centred.T @ centred / len(centred), hermitian=True)
    out["mahalanobis"] = torch.stack([torch.stack([-(r - mu) @ precision @ (r - mu) for mu in mus]).max()
                                      for r in t]).tolist()
    # kNN: -distance to the K-th nearest normalised training feature (brute force).
    xn = x / x.norm(dim=1, keepdim=True)
    tn = t / t.norm(dim=1, keepdim=True)
    out["knn"] = [-float(torch.sort(((xn - r) ** 2).sum(dim=1).sqrt()).values[case["k"] - 1]) for r in tn]
    # GEN on the test logits.
    p = torch.softmax(logits, dim=1)
    top = torch.sort(p, dim=1, descending=True).values[:, : case["gen_m"] if case["gen_m"] else classes]
    out["gen"] = (-(top ** case["gamma"] * (1 - top) ** case["gamma"]).sum(dim=1)).tolist()
    # ViM.
    u = -torch.linalg.pinv(w) @ b
    cov = (x - u).T @ (x - u) / len(x)
    vals, vecs = torch.linalg.eigh(cov)
    order = torch.argsort(vals, descending=True)
    ns = vecs[:, order[case["vim_dim"]:]]
    alpha = (x @ w.T + b).max(dim=1).values.mean() / ((x - u) @ ns).norm(dim=1).mean()
    out["vim"] = (energy(logits) - alpha * ((t - u) @ ns).norm(dim=1)).tolist()
    # ReAct per block, and ASH-B per block.
    clipped, shaped, offset = [], [], 0
    for width in case["widths"]:
        thr = percentile(x[:, offset: offset + width], case["react_percentile"])
        clipped.append(t[:, offset: offset + width].clamp(max=thr))
        block = t[:, offset: offset + width]
        k = max(1, width - int(round(width * case["ash_percentile"] / 100)))
        rows = []
        for r in block:
            keep = torch.argsort(r, descending=True)[:k]
            z = torch.zeros_like(r)
            z[keep] = r.sum() / k
            rows.append(z)
        shaped.append(torch.stack(rows))
        offset += width
    out["react"] = energy(torch.cat(clipped, dim=1) @ w.T + b).tolist()
    out["ash"] = energy(torch.cat(shaped, dim=1) @ w.T + b).tolist()
    return out


def main():
    with open(sys.argv[1]) as f:
        case = json.load(f)
    kinds = {"disagree": disagree, "npmix": npmix, "scorers": scorers}
    print(json.dumps([kinds[c["kind"]](c) for c in case]))


if __name__ == "__main__":
    main()
