"""The steps scripts/gpu-check runs, each one's planned seconds, and the clock that gives each its share."""
import time

# Each step's planned seconds on a 16-core GPU machine (sum 600). A step may use what earlier steps left unused;
# the later steps' planned time stays reserved. The build: a clean -j2 build here (Xeon VM, no ccache) took 860 CPU
# seconds (141 jobs); its .ninja_log durations, scaled to those CPU seconds and scheduled on 16 workers with the
# build's dependencies (`ninja -t graph`), finish in 69 s, so 120 s leaves room for slower cores.
PLAN = [("preflight", 20), ("unpack", 10), ("configure", 20), ("build", 120), ("demo", 35), ("resume", 60),
        ("two_gpus", 60), ("data_wait", 35), ("bench", 235), ("report", 5)]
TOTAL = sum(s for _, s in PLAN)
TITLES = {"preflight": "tools, GPU and PyTorch", "unpack": "unpack the .deb files", "configure": "configure",
          "build": "build", "demo": "demo on cuda", "resume": "train, SIGKILL, resume, compare (1 GPU)",
          "two_gpus": "2 ranks on 2 GPUs == 1 rank", "data_wait": "data wait on the GPU",
          "bench": "host vs PyTorch eager and torch.compile", "report": "write the GPU section"}


class Clock:
    def __init__(self, budget):
        self.t0 = time.monotonic()
        self.budget = budget

    def elapsed(self):
        return time.monotonic() - self.t0

    def timeout_for(self, step):
        """Seconds `step` may take: the budget left minus what the later steps have planned (at least its own plan)."""
        names = [n for n, _ in PLAN]
        later = sum(s for n, s in PLAN[names.index(step) + 1:])
        own = dict(PLAN)[step]
        return max(own, self.budget - self.elapsed() - later)

