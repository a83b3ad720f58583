#!/usr/bin/python3
"""Reference OOD scores for tests/plugins/test_std_scorers.cpp, written from the formulas (not from the C++).

Usage: /usr/bin/python3 logit_scorers_reference.py LOGITS.json
LOGITS.json is {"logits": [[...], ...]} (rows = samples). Prints a JSON object of lists, one value per row:
  msp        max_c exp(l_c) / sum_k exp(l_k), computed as 1 / sum_k exp(l_k - max l)
  energy_t1  T * log sum_k exp(l_k / T) with T = 1, computed as max l + T * log sum_k exp((l_k - max l) / T)
  energy_t2  the same with T = 2
  maxlogit   max_c l_c
All in float64 with torch. Exit code 3 when torch is missing (install Debian's python3-torch).
"""
import json
import sys

try:
    import torch
except ImportError as e:  # the C++ test turns this into a failure telling what to install
    print(f"logit_scorers_reference: {e}; install python3-torch (apt-get install python3-torch)", file=sys.stderr)
    sys.exit(3)


def energy(logits, t):
    top = logits.max(dim=1, keepdim=True).values
    return top.squeeze(1) + t * torch.log(torch.exp((logits - top) / t).sum(dim=1))


def main():
    with open(sys.argv[1]) as f:
        logits = torch.tensor(json.load(f)["logits"], dtype=torch.float64)
    top = logits.max(dim=1, keepdim=True).values
    out = {
        "msp": (1.0 / torch.exp(logits - top).sum(dim=1)).tolist(),
        "energy_t1": energy(logits, 1.0).tolist(),
        "energy_t2": energy(logits, 2.0).tolist(),
        "maxlogit": top.squeeze(1).tolist(),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
