#!/usr/bin/python3
"""Summarises bench/mcr.sh's runs as markdown: usage `report.py WORK "SEEDS" TIMING_REPEATS "ARMS"`.

Per dataset and arm: mean ± std over seeds of the test accuracy and of each modality's accuracy (the unimodal
logits W[0; z_m; 0] + b of the shared concat head), and MCR's divergences J per modality on the last logged
training step. Step time: train seconds / steps of the alternating timing runs; the ratio of medians.
"""
import json
import statistics as st
import sys

work, seeds, repeats, arms = sys.argv[1], sys.argv[2].split(), int(sys.argv[3]), sys.argv[4].split()
DATA = {"gaussian": ("m0", "m1"), "av_digits": ("image", "audio")}


def summary(name):
    with open(f"{work}/runs/{name}/summary.json") as f:
        return json.load(f)


def ms(values, fmt="{:.3f}"):
    if len(values) == 1:
        return fmt.format(values[0])
    return (fmt + " ± " + fmt).format(st.mean(values), st.stdev(values))


print(f"Seeds: {' '.join(seeds)}; mean ± std (sample std over seeds).\n")
for data, mods in DATA.items():
    print(f"### {data}\n")
    print(f"| arm | accuracy | acc {mods[0]} | acc {mods[1]} |")
    print("|---|---|---|---|")
    for arm in arms:
        acc, a0, a1 = [], [], []
        for seed in seeds:
            ev = summary(f"{data}-{arm}-{seed}")["eval"]
            acc.append(ev["classification"]["accuracy"])
            a0.append(ev["per_modality_accuracy"][mods[0]])
            a1.append(ev["per_modality_accuracy"][mods[1]])
        print(f"| {arm} | {ms(acc)} | {ms(a0)} | {ms(a1)} |")
    times = {arm: [] for arm in ("joint", "mcr")}
    for rep in range(1, repeats + 1):
        for arm in times:
            s = summary(f"{data}-time-{arm}-{rep}")
            times[arm].append(s["train"]["seconds"] / s["steps"] * 1e3)
    ratio = st.median(times["mcr"]) / st.median(times["joint"])
    print(f"\nStep time (ms, {repeats} alternating runs): joint {' '.join(f'{t:.2f}' for t in times['joint'])}, "
          f"MCR greedy S=32 {' '.join(f'{t:.2f}' for t in times['mcr'])}; ratio of medians MCR / joint = **{ratio:.2f}**\n")
