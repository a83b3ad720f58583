#!/usr/bin/python3
"""Summarises bench/mcr.sh's sweeps as markdown: usage `report.py WORK` (WORK/<data>/sweep.json for the arms,
WORK/<data>-timing/sweep.json for the step time; step counts from the run directories they name).

Per dataset and arm (in the arms file's order): mean ± std over seeds of the test accuracy, its paired
difference vs joint training (mean of the per-seed differences with its 95% t-interval, * when it excludes 0),
the same vs MCR without the game (λ = 0: the contrastive and unimodal terms only, which isolates the game, MCR's
own idea), and each modality's accuracy (the unimodal logits W[0; z_m; 0] + b of the shared concat head).
Step time: train seconds / steps of the alternating timing runs; the ratio of medians.
"""
import json
import os
import platform
import statistics as st
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from sweep_summary import paired, paired_between  # noqa: E402

work = sys.argv[1]
DATA = {"gaussian": ("m0", "m1"), "av_digits": ("image", "audio")}


def load_sweep(name):
    with open(f"{work}/{name}/sweep.json") as f:
        return json.load(f)


def ms(m):
    """mean ± std of a sweep.json metric (its sample std over seeds)."""
    return f"{m['mean']:.3f}" if m["std"] is None else f"{m['mean']:.3f} ± {m['std']:.3f}"


first = load_sweep("gaussian")
print(f"Seeds: {' '.join(map(str, first['seeds']))}; mean ± std (sample std over seeds); Δ accuracy: the paired "
      f"difference vs joint training, mean of the per-seed differences [95% t-interval], * when it excludes 0.\n")
print(f"Machine: {platform.node()}, {platform.system()} {platform.release()}, {os.cpu_count()} cores, load average "
      f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} at the end. Sweeps: `{first['command']}` and "
      f"the same for av_digits; step time: `{load_sweep('gaussian-timing')['command']}`.\n")
for data, mods in DATA.items():
    sweep = load_sweep(data)
    print(f"### {data}\n")
    print(f"| arm | accuracy | Δ accuracy vs joint | Δ accuracy vs mcr-nogame (λ = 0) | acc {mods[0]} | acc {mods[1]} |")
    print("|---|---|---|---|---|---|")
    nogame = next(c for c in sweep["configs"] if c["overrides"]["arm"] == "mcr-nogame")
    for cfg in sweep["configs"]:
        m = cfg["metrics"]
        game = cfg["overrides"]["arm"].startswith("mcr-") and cfg is not nogame
        print(f"| {cfg['overrides']['arm']} | {ms(m['eval.classification.accuracy'])} (n = {m['eval.classification.accuracy']['n']}) | "
              f"{paired(cfg)} | {paired_between(cfg, nogame) if game else ''} | {ms(m[f'eval.per_modality_accuracy.{mods[0]}'])} | {ms(m[f'eval.per_modality_accuracy.{mods[1]}'])} |")
    timing = load_sweep(f"{data}-timing")
    times = {}
    for cfg in timing["configs"]:
        times[cfg["overrides"]["arm"]] = []
        for r in cfg["runs"]:
            if r["status"] == "finished":
                with open(f"{work}/{data}-timing/{r['dir']}/summary.json") as f:
                    s = json.load(f)
                times[cfg["overrides"]["arm"]].append(s["train"]["seconds"] / s["steps"] * 1e3)
    ratio = st.median(times["mcr"]) / st.median(times["joint"])
    print(f"\nStep time (ms, {len(times['joint'])} alternating runs): joint {' '.join(f'{t:.2f}' for t in times['joint'])}, "
          f"MCR greedy S=32 {' '.join(f'{t:.2f}' for t in times['mcr'])}; ratio of medians MCR / joint = **{ratio:.2f}**\n")
