#!/usr/bin/python3
"""Reference values for tests/methods/a2d, written from MultiOOD itself: /work/shared/methods.md's "A2D + NP-Mix"
section, the paper (Dong et al., NeurIPS 2024) and its release (donghao51/MultiOOD at ab7b221,
HMDB-rgb-flow/train_video_flow.py: train_one_step, hellinger_distance, normalized_prediction_entropy), never from
our own method docs or the C++, so that a misreading there shows up here as a mismatch.

The model as released: each modality m has a classifier of its own, fc_m (an nn.Linear on its embedding z_m:
`model.cls_head.fc_cls`, `model_flow.cls_head.fc_cls`), and the fused head is a separate nn.Linear on
cat(z_1, ..., z_M) (`mlp_cls`). The base loss averages CE(fused) and every CE(fc_m(z_m)) (`--use_single_pred`);
A2D and NP-Mix read fc_m's outputs only, so they never reach the fused head.

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
    import torch.nn.functional as F
except ImportError as e:  # the C++ test turns this into a failure telling what to install
    print(f"a2d_reference: {e}; install python3-torch (apt-get install python3-torch)", file=sys.stderr)
    sys.exit(3)

T = lambda x: torch.tensor(x, dtype=torch.float64)


def linear(spec):
    """An nn.Linear with the given weight [C, D] and bias [C], float64, its parameters requiring grad."""
    w = T(spec["weight"])
    layer = torch.nn.Linear(w.shape[1], w.shape[0]).double()
    with torch.no_grad():
        layer.weight.copy_(w)
        layer.bias.copy_(T(spec["bias"]))
    return layer


def hellinger(p, q):
    """The release's hellinger_distance: clamp at 1e-6, sqrt(sum (sqrt p - sqrt q)^2) / sqrt 2 per row, mean."""
    p, q = p.clamp(min=1e-6), q.clamp(min=1e-6)
    return (torch.sqrt(((p.sqrt() - q.sqrt()) ** 2).sum(dim=-1)) / math.sqrt(2.0)).mean()


def discrepancy(kind, p, q):
    """hellinger as released; l1 / l2 as nn.L1Loss / nn.MSELoss (mean over entries); wasserstein: the 1-Wasserstein
    distance between p and q as distributions on the class index line, per row, mean (methods.md asks for a
    distance between the predictions; the release's cdist-based function is not one)."""
    if kind == "hellinger":
        return hellinger(p, q)
    if kind == "l1":
        return torch.nn.L1Loss()(p, q)
    if kind == "l2":
        return torch.nn.MSELoss()(p, q)
    rows = []
    for a, b in zip(p, q):
        total = torch.zeros((), dtype=torch.float64)
        for k in range(len(a) - 1):  # |F_p(k) - F_q(k)| between the points k and k + 1
            total = total + (a[: k + 1].sum() - b[: k + 1].sum()).abs()
        rows.append(total)
    return torch.stack(rows).mean()


def mean_over_pairs(kind, probs):
    """Two modalities: D(p_1, p_2); more: the mean over unordered pairs (the release's three-modality script)."""
    pairs = list(itertools.combinations(range(len(probs)), 2))
    return sum(discrepancy(kind, probs[i], probs[j]) for i, j in pairs) / len(pairs)


def without_ground_truth(v, y):
    """The release's loop: each row of v with its label's column cut out, [B, C - 1]."""
    return torch.cat([torch.cat([v[i, : y[i]], v[i, y[i] + 1:]]).unsqueeze(0) for i in range(len(y))], dim=0)


def disagree(case):
    """One training step's loss of A2D on a model with separate heads, and its gradients w.r.t. every parameter
    and every modality's features:
        f = mlp_cls(cat z), v_m = fc_m(z_m),
        L = (CE(f) + sum_m CE(v_m)) / (M + 1)  [or CE(f) alone without unimodal_ce]
            - ratio * mean-pair D(softmax(v_m without y)).
    """
    z = [T(x).requires_grad_(True) for x in case["features"]]
    fused_head = linear(case["fused_head"])
    heads = [linear(h) for h in case["heads"]]
    y = torch.tensor(case["labels"], dtype=torch.long)
    f = fused_head(torch.cat(z, dim=1))
    v = [fc(zm) for fc, zm in zip(heads, z)]
    m = len(v)
    loss = (F.cross_entropy(f, y) + sum(F.cross_entropy(vm, y) for vm in v)) / (m + 1) if case["unimodal_ce"] else F.cross_entropy(f, y)
    gap = mean_over_pairs(case["discrepancy"], [F.softmax(without_ground_truth(vm, y), dim=1) for vm in v])
    loss = loss - case["ratio"] * gap
    loss.backward()
    return {"loss": loss.item(), "discrepancy": gap.item(),
            "grad_fused_weight": fused_head.weight.grad.tolist(), "grad_fused_bias": fused_head.bias.grad.tolist(),
            "grad_head_weights": [h.weight.grad.tolist() for h in heads], "grad_head_biases": [h.bias.grad.tolist() for h in heads],
            "grad_features": [zm.grad.tolist() for zm in z]}


def normalized_entropy(logits):
    """The release's normalized_prediction_entropy: -sum p log(p + 1e-9) / log C per row."""
    p = F.softmax(logits, dim=-1)
    return -(p * torch.log(p + 1e-9)).sum(dim=-1) / math.log(logits.shape[-1])


def npmix(case):
    """NP-Mix for a given draw (indices into the queues and lambdas), as the release makes it: class prototypes are
    the queue means, a KD-tree query of nn_k points around prototype i returns i itself first, which is dropped (so
    min(nn_k, C) - 1 neighbours); outlier i = lambda a + (1 - lambda) b, a from queue i, b from queue j. Each
    modality's classifier fc_m reads its block of the outliers (`fc_cls(ood_samples[:, :v_dim])`, ...). Terms:
    -mean-pair D(softmax fc_m(o)) and -mean_m mean_i H~(fc_m(o_i)). Also the gradients of both terms w.r.t. the
    classifiers' parameters (the fused head takes no part)."""
    queues = T(case["queues"])  # [C, Q, D]
    classes = queues.shape[0]
    protos = queues.mean(dim=1)
    candidates = []
    for i in range(classes):
        by_distance = sorted(range(classes), key=lambda j: (float(((protos[i] - protos[j]) ** 2).sum()), j != i))
        candidates.append(by_distance[: case["nn_k"]][1:])
    d = case["draw"]
    outliers = torch.stack([d["lambda"][i] * queues[i, d["first"][i]] +
                            (1 - d["lambda"][i]) * queues[d["neighbour"][i], d["second"][i]] for i in range(classes)])
    heads = [linear(h) for h in case["heads"]]
    logits, offset = [], 0
    for fc in heads:
        logits.append(fc(outliers[:, offset: offset + fc.in_features]))
        offset += fc.in_features
    ood_discrepancy = -mean_over_pairs(case["discrepancy"], [F.softmax(v, dim=1) for v in logits])
    ood_entropy = -sum(normalized_entropy(v).mean() for v in logits) / len(logits)
    params = [p for fc in heads for p in (fc.weight, fc.bias)]
    grads = {name: [g.tolist() for g in torch.autograd.grad(term, params, retain_graph=True)]
             for name, term in (("ood_discrepancy", ood_discrepancy), ("ood_entropy", ood_entropy))}
    return {"candidates": candidates, "outliers": outliers.tolist(), "ood_discrepancy": ood_discrepancy.item(),
            "ood_entropy": ood_entropy.item(), "grads": grads}


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
