#!/usr/bin/python3
"""Summarises bench/arl.sh's sweeps as markdown: usage `report.py WORK` (WORK/<data>/sweep.json for the arms,
WORK/<data>-timing/sweep.json for the step time; per-run diagnostics from the run directories they name).

Per dataset and arm (joint; arl; variance = arl with the variance estimator; fixed = arl with w fixed at 1/2;
release = the later release's scaling), mean ± std over seeds of: test accuracy and its paired difference vs joint
training (mean of the per-seed differences with its 95% t-interval, from sweep.json; * when the interval excludes
0) and vs the fixed-weight arm (what the asymmetry of the weights adds), per-modality accuracy
(the unimodal logits W[0; z_m; 0] + b of the shared head), the dependence ratio measured two ways, and ARL's
weight ratio w_0 / w_1 at the last logged training step and on the test set (mean over test batches).
Dependence measures (docs/methods/arl.md defines them):
  map ratio    ||W_0 A_0||_F / ||W_1 A_1||_F for the linear Gaussian model (encoder A_m, head slice W_m):
               the norms of the linear maps from each modality's input to the logits; Bayes-optimal: sigma_1^2/sigma_0^2.
  spread ratio s_0 / s_1, s_m = std over test samples of modality m's logit contribution W_m z_m, mean over classes.
Step time: train seconds / steps of the alternating timing runs; the ratio of medians.
Reads torch only to open the Gaussian runs' checkpoints (the map ratio).
"""
import json
import os
import platform
import statistics as st
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from sweep_summary import paired, paired_between  # noqa: E402

import torch

work = sys.argv[1]
DATA = {"gaussian": ("m0", "m1"), "av_digits": ("image", "audio")}
ARMS = (("joint", "joint"), ("arl", "ARL (entropy)"), ("variance", "ARL (variance estimator)"),
        ("fixed", "ARL, w = 1/2 fixed"), ("release", "ARL, the later release's scaling (T = 8)"))


def load_sweep(name):
    with open(f"{work}/{name}/sweep.json") as f:
        return json.load(f)


def config(sweep, arm):
    return next(c for c in sweep["configs"] if c["overrides"].get("arm") == arm)


def runs(name, cfg):
    """(seed, run directory) of the configuration's finished runs, in seed order."""
    return [(r["seed"], f"{work}/{name}/{r['dir']}") for r in cfg["runs"] if r["status"] == "finished"]


def summary(run_dir):
    with open(f"{run_dir}/summary.json") as f:
        return json.load(f)


def last_train_metrics(run_dir):
    """The component metrics of the last logged training step (the variance estimator logs none at evaluation)."""
    with open(f"{run_dir}/metrics.jsonl") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [r for r in rows if r["type"] == "train"][-1]["metrics"]


def map_ratio(run_dir, mods):
    """||W_0 A_0|| / ||W_1 A_1|| from the final checkpoint of a linear-encoder run."""
    m = torch.jit.load(run_dir + "/checkpoints/" + open(run_dir + "/checkpoints/latest").read().strip())
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


first = load_sweep("gaussian")
print(f"Seeds: {' '.join(map(str, first['seeds']))}; mean ± std (sample std over seeds); Δ accuracy: the paired "
      f"difference vs joint training, mean of the per-seed differences [95% t-interval], * when it excludes 0.\n")
print(f"Machine: {platform.node()}, {platform.system()} {platform.release()}, {os.cpu_count()} cores, load average "
      f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} at the end. Sweeps: `{first['command']}` and "
      f"the same for av_digits; step time: `{load_sweep('gaussian-timing')['command']}`.\n")
for data, mods in DATA.items():
    sweep = load_sweep(data)
    print(f"### {data}\n")
    head = f"| arm | accuracy | Δ accuracy vs joint | Δ accuracy vs w = 1/2 fixed | acc {mods[0]} | acc {mods[1]} | spread ratio {mods[0]}:{mods[1]} | ARL weight ratio w_{mods[0]}/w_{mods[1]}: last logged train step | on test |"
    sep = "|---|---|---|---|---|---|---|---|---|"
    if data == "gaussian":
        head += " map ratio m0:m1 (Bayes-optimal 4.0) |"
        sep += "---|"
    print(head)
    print(sep)
    for arm, label in ARMS:
        cfg = config(sweep, arm)
        rows = {k: [] for k in ("acc", "a0", "a1", "spread", "w", "wtest", "map")}
        for _, run_dir in runs(data, cfg):
            ev = summary(run_dir)["eval"]
            comp = ev["components"]
            rows["acc"].append(ev["classification"]["accuracy"])
            rows["a0"].append(ev["per_modality_accuracy"][mods[0]])
            rows["a1"].append(ev["per_modality_accuracy"][mods[1]])
            rows["spread"].append(comp[f"estimators.arl/spread/{mods[0]}"] / comp[f"estimators.arl/spread/{mods[1]}"])
            w = last_train_metrics(run_dir)
            rows["w"].append(w[f"estimators.arl/weight/{mods[0]}"] / w[f"estimators.arl/weight/{mods[1]}"])
            if f"estimators.arl/weight/{mods[0]}" in comp:  # the variance estimator logs none at evaluation
                rows["wtest"].append(comp[f"estimators.arl/weight/{mods[0]}"] / comp[f"estimators.arl/weight/{mods[1]}"])
            if data == "gaussian":
                rows["map"].append(map_ratio(run_dir, mods))
        # The sweep's own mean and std of the accuracy are the same numbers as rows["acc"]: check, do not trust.
        assert abs(cfg["metrics"]["eval.classification.accuracy"]["mean"] - st.mean(rows["acc"])) < 1e-12
        vs_fixed = "" if arm in ("joint", "fixed") else paired_between(cfg, config(sweep, "fixed"))
        line = f"| {label} | {ms(rows['acc'])} | {paired(cfg)} | {vs_fixed} | {ms(rows['a0'])} | {ms(rows['a1'])} | {ms(rows['spread'], '{:.2f}')} | {ms(rows['w'], '{:.2f}')} | {ms(rows['wtest'], '{:.2f}') if rows['wtest'] else 'n/a'} |"
        if data == "gaussian":
            line += f" {ms(rows['map'], '{:.2f}')} |"
        print(line)
    unfinished = [f"{c['name']} seed {r['seed']}: {r['status']}" for c in sweep["configs"] for r in c["runs"] if r["status"] != "finished"]
    if unfinished:
        print(f"\nLeft out (not finished): {'; '.join(unfinished)}")
    timing = load_sweep(f"{data}-timing")
    times, steps = {}, None
    for arm in ("plain", "arl"):
        times[arm] = []
        for _, run_dir in runs(f"{data}-timing", config(timing, arm)):
            s = summary(run_dir)
            times[arm].append(s["train"]["seconds"] / s["steps"] * 1e3)
            steps = s["steps"]
    ratio = st.median(times["arl"]) / st.median(times["plain"])
    print(f"\nStep time (ms, {len(times['plain'])} alternating runs of {steps} steps each): joint "
          f"{' '.join(f'{t:.2f}' for t in times['plain'])}, ARL {' '.join(f'{t:.2f}' for t in times['arl'])}; "
          f"ratio of medians ARL / joint = **{ratio:.2f}**\n")
