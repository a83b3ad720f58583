#include "run/threads.hpp"

#include <malloc.h>
#include <sched.h>

#include <algorithm>
#include <memory>
#include <thread>

#include "compat/torch.hpp"

#include <ATen/Parallel.h>
#include <tbb/global_control.h>

namespace mmdebias::core {

int usable_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

int set_thread_count(int threads) {
  int n = threads > 0 ? threads : usable_cores();
  at::set_num_threads(n);
  // One cap for oneTBB too, so the loader's arena and LibTorch's pool do not oversubscribe the cores.
  static std::unique_ptr<tbb::global_control> tbb_cap;
  tbb_cap = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(n));
  return n;
}

void keep_freed_step_buffers() {
  if (!compat::kKeepFreedStepBuffers) return;
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's largest: step buffers come from the heap and are reused
  mallopt(M_TRIM_THRESHOLD, 1 << 30);   // and the heap's free top is not handed back every step
}

}  // namespace mmdebias::core
