#!/usr/bin/python3
"""Reference CausalMM computations for tests/methods/causalmm/test_python_reference.cpp, written from the project's
method facts (shared/methods.md, "CausalMM - counterfactual attention"), the paper (Zhou et al., ICLR 2025,
"Mitigating Modality Prior-Induced Hallucinations in MLLMs via Deciphering Attention Causality") and the released
code (github.com/The-Martyr/CausalMM) -- not from our own method docs nor from the C++. Entry by entry, in
float64, with torch autograd only for the gradients.

Usage: /usr/bin/python3 causalmm_reference.py CASES.json
CASES.json: {"edits": [{"edit", "weights" [B,H,Q,K], "mask" [B,H,Q,K] of 0/1, "draw", "probe" [B,H,Q,K]}, ...],
             "contrasts": [{"l" [B,C], "cf" [n][B,C], "gamma", "epsilon", "label" [B]}, ...]}
"draw" is the random numbers the C++ side drew, injected so both sides use the same ones: random -> U [B,H,Q,K];
shuffle -> priorities [H,Q,K]; shuffle_keys -> priorities [H,K]; [] otherwise. A permutation is the order of its
priorities (argsort), which is how i.i.d. uniforms give a uniformly random permutation, like torch.randperm.
Prints {"edits": [{"out", "grad"}], "contrasts": [{"s", "cut", "ce", "grad_l", "grad_cf"}]}:
  edits:     out = the edited map; grad = d sum(out * probe) / d weights
  contrasts: s = the contrast before the cut-off; cut = 1 where the plausibility constraint sets -inf (the paper);
             ce, grad_l, grad_cf = mmdebias's training term (below) and its gradients to l and each cf.

The rules and where they come from:
  Masks (methods.md: "Causal (masked) attention keeps its mask"): masked entries of every edited map are 0. The
  release's LLM-level edits (README, "LLM Counterfactual Attention") multiply by (1 - causal mask) and
  renormalise each row by its sum (normalize_attention); here a row is renormalised over its allowed keys to the
  row's factual total M (methods.md's uniform is "the row mean", which keeps M; M = 1 for a softmax row, 0 for a
  row with no allowed key, which stays all 0).
  random   (methods.md "uniform noise"; release random_attention: rand, normalised rows): U over the allowed keys,
           renormalised to M.
  uniform  (methods.md: the row mean, 1/K for a row-stochastic A): M / (number of allowed keys).
  reversed (methods.md: row max minus A, renormalised; release reverse_and_normalize_attention): max over the
           allowed keys minus A, renormalised to M. A row with nothing to reverse (all allowed weights equal) has
           sum 0, where the release divides 0 by 0; here it gets the uniform map (the only map with no ranking).
  shuffle  (methods.md; release cf_encoder.py, CLIPVisionTower.edit_attention, method 'shuffle'): per head h, ONE
           permutation of the flattened Q x K map (torch.randperm(Q*K), the same for every batch row), applied as
           out_flat[i] = A_flat[perm[i]]. Under a mask only the allowed entries take part: the allowed entries, in
           the order the head's permutation lists them, fill the allowed positions in index order (without a mask
           this is exactly the release's gather). Then each row is renormalised to M (the release's LLM-level
           normalize_attention; its vision path feeds the map to a feature re-weighting, not to attention).
  shuffle_keys (the key-only alternative): per head one permutation of the key positions, the same for every
           batch row and query; in each row the allowed keys, in the permutation's order, fill the allowed
           positions in index order. A row permutation: no renormalisation needed.
  contrast (methods.md; paper's counterfactual reasoning; release causalmm_cf/causalmm_mm.py):
           s = (1 + n*gamma) * l - gamma * sum over the n levels of cf; the adaptive plausibility constraint keeps
           class c when l_c >= log(epsilon) + max l (i.e. p_c >= epsilon * max p) and sets the others to -inf.
  training term (mmdebias's addition, no paper counterpart): CE(s before the cut-off, label), mean over rows.
Exit code 3 when torch is missing (install Debian's python3-torch).
"""
import json
import math
import sys

try:
    import torch
except ImportError as e:  # the C++ test turns this into a failure telling what to install
    print(f"causalmm_reference: {e}; install python3-torch (apt-get install python3-torch)", file=sys.stderr)
    sys.exit(3)

ZERO = torch.zeros((), dtype=torch.float64)


def to_mass(row, allowed, mass):
    """row (entries off `allowed` ignored) scaled so its allowed entries sum to `mass`; 0 off `allowed`.
    A row whose allowed entries sum to 0 becomes mass / (number allowed) on each allowed entry."""
    total = sum((row[k] for k in allowed), ZERO)
    if float(total) > 0:
        return [row[k] / total * mass if k in allowed else ZERO for k in range(len(row))]
    return [mass / len(allowed) if k in allowed else ZERO for k in range(len(row))]


def row_edit(kind, a, allowed, noise):
    """random, uniform and reversed: one row a (0-d tensors) with its allowed key indices."""
    if not allowed:
        return [ZERO for _ in a]
    mass = sum((a[k] for k in allowed), ZERO)
    if kind == "random":
        return to_mass(noise, allowed, mass)
    if kind == "uniform":
        return [mass / len(allowed) if k in allowed else ZERO for k in range(len(a))]
    if kind == "reversed":
        top = max((a[k] for k in allowed), key=float)
        return to_mass([top - a[k] for k in range(len(a))], allowed, mass)
    raise ValueError(kind)


def permuted_onto_allowed(values, allowed_flags, order):
    """The entries listed by `order` (a permutation of positions), allowed ones only, placed in sequence onto the
    allowed positions in index order; masked positions get 0."""
    sources = [i for i in order if allowed_flags[i]]
    targets = [i for i in range(len(values)) if allowed_flags[i]]
    out = [ZERO for _ in values]
    for target, source in zip(targets, sources):
        out[target] = values[source]
    return out


def argsort(priorities):
    return sorted(range(len(priorities)), key=lambda i: priorities[i])


def head_shuffle(a, m, prio):
    """The release's shuffle of one head's map a [Q][K] with mask m [Q][K] and priorities prio [Q][K]."""
    Q, K = len(a), len(a[0])
    flat = [a[q][k] for q in range(Q) for k in range(K)]
    flags = [m[q][k] for q in range(Q) for k in range(K)]
    perm = argsort([prio[q][k] for q in range(Q) for k in range(K)])  # the head's randperm(Q*K)
    moved = permuted_onto_allowed(flat, flags, perm)
    rows = []
    for q in range(Q):
        allowed = [k for k in range(K) if m[q][k]]
        mass = sum((a[q][k] for k in allowed), ZERO)
        rows.append(to_mass(moved[q * K:(q + 1) * K], allowed, mass) if allowed else [ZERO] * K)
    return rows


def edit(case):
    w = torch.tensor(case["weights"], dtype=torch.float64, requires_grad=True)
    mask = torch.tensor(case["mask"], dtype=torch.float64) > 0
    draw = torch.tensor(case["draw"], dtype=torch.float64).tolist() if case["draw"] else None
    kind = case["edit"]
    B, H, Q, K = w.shape
    heads = []
    for b in range(B):
        for h in range(H):
            a = [[w[b, h, q, k] for k in range(K)] for q in range(Q)]
            m = [[bool(mask[b, h, q, k]) for k in range(K)] for q in range(Q)]
            if kind == "shuffle":
                rows = head_shuffle(a, m, draw[h])
            elif kind == "shuffle_keys":
                rows = [permuted_onto_allowed(a[q], m[q], argsort(draw[h])) for q in range(Q)]
            else:
                rows = [row_edit(kind, a[q], [k for k in range(K) if m[q][k]], draw[b][h][q] if kind == "random" else None)
                        for q in range(Q)]
            heads.append(torch.stack([torch.stack(r) for r in rows]))
    out = torch.stack(heads).view(B, H, Q, K)
    probe = torch.tensor(case["probe"], dtype=torch.float64)
    (grad,) = torch.autograd.grad((out * probe).sum(), w)
    return {"out": out.detach().tolist(), "grad": grad.tolist()}


def contrast(case):
    l = torch.tensor(case["l"], dtype=torch.float64, requires_grad=True)
    cf = [torch.tensor(c, dtype=torch.float64, requires_grad=True) for c in case["cf"]]
    gamma, epsilon, n = case["gamma"], case["epsilon"], len(case["cf"])
    s = (1 + n * gamma) * l - gamma * sum(cf, torch.zeros_like(l))
    log_eps = math.log(epsilon) if epsilon > 0 else -math.inf  # the release: cutoff = log(eps) + max l
    cut = [[1 if float(l[b, c]) < log_eps + float(l[b].max()) else 0 for c in range(l.shape[1])] for b in range(l.shape[0])]
    label = [int(y) for y in case["label"]]
    ce = sum(-(s[b, label[b]] - torch.logsumexp(s[b], dim=0)) for b in range(len(label))) / len(label)
    grads = torch.autograd.grad(ce, [l] + cf)
    return {"s": s.detach().tolist(), "cut": cut, "ce": float(ce), "grad_l": grads[0].tolist(),
            "grad_cf": [g.tolist() for g in grads[1:]]}


def main():
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    print(json.dumps({"edits": [edit(c) for c in cases["edits"]], "contrasts": [contrast(c) for c in cases["contrasts"]]}))


if __name__ == "__main__":
    main()
