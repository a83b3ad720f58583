"""nvidia-smi polled while a command runs: evidence that the command used the GPU(s)."""
import shutil
import threading

from .runner import out_of


class GpuWatch:
    """Polls nvidia-smi's compute processes while a command runs: which GPUs held a process of ours (new since the
    watch started) and their peak memory. Evidence that the run used the GPU; nvidia-smi lists no processes inside
    some containers, so an empty answer is reported, not failed."""

    def __init__(self, enabled):
        self.enabled = enabled and shutil.which("nvidia-smi") is not None
        self.seen = {}
        self.stop = threading.Event()
        self.before = set(self._apps()) if self.enabled else set()
        self.uuid_index = {}
        if self.enabled:
            for line in out_of(["nvidia-smi", "--query-gpu=index,uuid", "--format=csv,noheader"]).splitlines():
                parts = [x.strip() for x in line.split(",")]
                if len(parts) == 2:
                    self.uuid_index[parts[1]] = parts[0]

    def _apps(self):
        out = {}
        for line in out_of(["nvidia-smi", "--query-compute-apps=pid,gpu_uuid,used_memory", "--format=csv,noheader,nounits"]).splitlines():
            parts = [x.strip() for x in line.split(",")]
            if len(parts) == 3 and parts[0].isdigit():
                out[(parts[0], parts[1])] = float(parts[2]) if parts[2].replace(".", "").isdigit() else 0.0
        return out

    def __enter__(self):
        if self.enabled:
            self.thread = threading.Thread(target=self._poll, daemon=True)
            self.thread.start()
        return self

    def _poll(self):
        while not self.stop.is_set():
            for key, mem in self._apps().items():
                if key not in self.before:
                    self.seen[key] = max(mem, self.seen.get(key, 0.0))
            self.stop.wait(0.2)

    def __exit__(self, *exc):
        self.stop.set()
        if self.enabled:
            self.thread.join()

    def summary(self):
        if not self.enabled:
            return "not watched"
        if not self.seen:
            return "nvidia-smi listed no new process (it lists none inside some containers, or the run was shorter than its 0.2 s poll)"
        per_gpu = {}
        for (pid, uuid), mem in self.seen.items():
            g = self.uuid_index.get(uuid, uuid[:12])
            per_gpu.setdefault(g, []).append(mem)
        return "; ".join(f"GPU {g}: {len(m)} process(es), peak {max(m):.0f} MiB" for g, m in sorted(per_gpu.items()))

    def gpus(self):
        return sorted({self.uuid_index.get(u, u) for (_, u) in self.seen})
