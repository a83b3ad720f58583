#!/usr/bin/python3
"""Summarises bench/arl.sh's runs as markdown: usage `report.py WORK "SEEDS" TIMING_REPEATS`.

Per dataset and arm (joint; arl; variance = arl with the variance estimator; released = arl with w fixed at
1/2), mean ± std over seeds of: test accuracy, per-modality accuracy (the unimodal logits W[0; z_m; 0] + b of the shared head), the dependence ratio measured two ways, and ARL's
weight ratio w_0 / w_1 at the last logged training step and on the test set (mean over test batches). Dependence measures (docs/methods/arl.md defines them):
  map ratio    ||W_0 A_0||_F / ||W_1 A_1||_F for the linear Gaussian model (encoder A_m, head slice W_m):
               the norms of the linear maps from each modality's input to the logits; Bayes-optimal: sigma_1^2/sigma_0^2.
  spread ratio s_0 / s_1, s_m = std over test samples of modality m's logit contribution W_m z_m, mean over classes.
Step time: train seconds / steps of the alternating timing runs; the ratio of medians.
"""
import json
import statistics as st
import sys

import torch

work, seeds, repeats = sys.argv[1], sys.argv[2].split(), int(sys.argv[3])
DATA = {"gaussian": ("m0", "m1"), "av_digits": ("image", "audio")}


def summary(name):
    with open(f"{work}/runs/{name}/summary.json") as f:
        return json.load(f)


def last_train_metrics(name):
    """The component metrics of the last logged training step (the variance estimator logs none at evaluation)."""
    with open(f"{work}/runs/{name}/metrics.jsonl") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [r for r in rows if r["type"] == "train"][-1]["metrics"]


def map_ratio(name, mods):
    """||W_0 A_0|| / ||W_1 A_1|| from the final checkpoint of a linear-encoder run."""
    d = f"{work}/runs/{name}"
    m = torch.jit.load(d + "/checkpoints/" + open(d + "/checkpoints/latest").read().strip())
    p = dict(m.model.named_parameters())
    head = p["fusion.head.weight"]
    maps, offset = [], 0
    for mod in mods:
        ws = [v for k, v in p.items() if k.startswith(f"encoders.{mod}.") and v.dim() == 2]
        assert len(ws) == 1, (mod, [k for k in p if k.startswith("encoders.")])
        a = ws[0]
        maps.append(head[:, offset:offset + a.shape[0]] @ a)
        offset += a.shape[0]
    return (maps[0].norm() / maps[1].norm()).item()


def ms(values, fmt="{:.3f}"):
    if len(values) == 1:
        return fmt.format(values[0])
    return (fmt + " ± " + fmt).format(st.mean(values), st.stdev(values))


print(f"Seeds: {' '.join(seeds)}; mean ± std (sample std over seeds).\n")
for data, mods in DATA.items():
    print(f"### {data}\n")
    head = f"| arm | accuracy | acc {mods[0]} | acc {mods[1]} | spread ratio {mods[0]}:{mods[1]} | ARL weight ratio w_{mods[0]}/w_{mods[1]}: last logged train step | on test |"
    sep = "|---|---|---|---|---|---|---|"
    if data == "gaussian":
        head += " map ratio m0:m1 (Bayes-optimal 4.0) |"
        sep += "---|"
    print(head)
    print(sep)
    for arm, label in (("joint", "joint"), ("arl", "ARL (entropy)"), ("variance", "ARL (variance estimator)"),
                       ("released", "ARL, w = 1/2 fixed (as released)")):
        rows = {k: [] for k in ("acc", "a0", "a1", "spread", "w", "wtest", "map")}
        for seed in seeds:
            name = f"{data}-{arm}-{seed}"
            ev = summary(name)["eval"]
            comp = ev["components"]
            rows["acc"].append(ev["classification"]["accuracy"])
            rows["a0"].append(ev["per_modality_accuracy"][mods[0]])
            rows["a1"].append(ev["per_modality_accuracy"][mods[1]])
            rows["spread"].append(comp[f"estimators.arl/spread/{mods[0]}"] / comp[f"estimators.arl/spread/{mods[1]}"])
            w = last_train_metrics(name)
            rows["w"].append(w[f"estimators.arl/weight/{mods[0]}"] / w[f"estimators.arl/weight/{mods[1]}"])
            if f"estimators.arl/weight/{mods[0]}" in comp:  # the variance estimator logs none at evaluation
                rows["wtest"].append(comp[f"estimators.arl/weight/{mods[0]}"] / comp[f"estimators.arl/weight/{mods[1]}"])
            if data == "gaussian":
                rows["map"].append(map_ratio(name, mods))
        line = f"| {label} | {ms(rows['acc'])} | {ms(rows['a0'])} | {ms(rows['a1'])} | {ms(rows['spread'], '{:.2f}')} | {ms(rows['w'], '{:.2f}')} | {ms(rows['wtest'], '{:.2f}') if rows['wtest'] else 'n/a'} |"
        if data == "gaussian":
            line += f" {ms(rows['map'], '{:.2f}')} |"
        print(line)
    times = {arm: [] for arm in ("plain", "arl")}
    for rep in range(1, repeats + 1):
        for arm in times:
            s = summary(f"{data}-time-{arm}-{rep}")
            times[arm].append(s["train"]["seconds"] / s["steps"] * 1e3)
    ratio = st.median(times["arl"]) / st.median(times["plain"])
    steps = summary(f"{data}-time-plain-1")["steps"]
    print(f"\nStep time (ms, {repeats} alternating runs of {steps} steps each): joint "
          f"{' '.join(f'{t:.2f}' for t in times['plain'])}, ARL {' '.join(f'{t:.2f}' for t in times['arl'])}; "
          f"ratio of medians ARL / joint = **{ratio:.2f}**\n")
