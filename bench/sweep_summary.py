"""What the method benchmarks' reports share: a configuration's paired difference vs the baseline, read from sweep.json."""


def paired(cfg, metric="eval.classification.accuracy"):
    """The paired difference vs the baseline as sweep.json has it: mean [95% interval], * if it excludes 0."""
    d = cfg.get("vs_baseline", {}).get(metric)
    if d is None:
        return "(baseline)"
    if d["ci95"] is None:
        return f"{d['mean']:+.3f} (n = {d['n']})"
    return f"{d['mean']:+.3f} [{d['ci95'][0]:+.3f}, {d['ci95'][1]:+.3f}]{'*' if d['excludes_zero'] else ''}"
