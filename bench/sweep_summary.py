"""What the method benchmarks' reports share: a configuration's paired difference vs the baseline, read from sweep.json."""


def paired(cfg, metric="eval.classification.accuracy"):
    """The paired difference vs the baseline as sweep.json has it: mean [95% interval], * if it excludes 0."""
    d = cfg.get("vs_baseline", {}).get(metric)
    if d is None:
        return "(baseline)"
    if d["ci95"] is None:
        return f"{d['mean']:+.3f} (n = {d['n']})"
    return f"{d['mean']:+.3f} [{d['ci95'][0]:+.3f}, {d['ci95'][1]:+.3f}]{'*' if d['excludes_zero'] else ''}"


def paired_between(cfg, ref, metric="eval.classification.accuracy", scale=1.0, digits=3):
    """cfg − ref per seed on the seeds both finished: mean [95% t-interval] (scaled), * if it excludes 0."""
    import math
    import statistics
    from scipy import stats
    a, b = cfg["metrics"].get(metric), ref["metrics"].get(metric)
    if a is None or b is None:
        return "n/a"
    theirs = dict(zip(b["seeds"], b["values"]))
    d = [scale * (v - theirs[s]) for s, v in zip(a["seeds"], a["values"]) if s in theirs]
    if len(d) < 2:
        return f"{statistics.mean(d):+.{digits}f} (n = {len(d)})" if d else "n/a"
    m, h = statistics.mean(d), stats.t.ppf(0.975, len(d) - 1) * statistics.stdev(d) / math.sqrt(len(d))
    star = "*" if m - h > 0 or m + h < 0 else ""
    return f"{m:+.{digits}f} [{m - h:+.{digits}f}, {m + h:+.{digits}f}]{star}"
