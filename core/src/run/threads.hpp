// The one thread budget of a process: LibTorch's intra-op pool and oneTBB capped to the same count.
#pragma once

namespace mmdebias::core {

/// The cores this process may run on (its CPU affinity: taskset, cgroup cpusets), at least 1.
int usable_cores();

/// Keeps a training step's large freed buffers in the process for the next step, where the build gains by it
/// (compat::kKeepFreedStepBuffers); a no-op elsewhere.
void keep_freed_step_buffers();

/// Sets LibTorch's intra-op threads and caps oneTBB to the same number (0 = all cores); returns the count.
int set_thread_count(int threads);

}  // namespace mmdebias::core
