#include "run/threads.hpp"

#include <sched.h>

#include <algorithm>
#include <memory>
#include <thread>

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

}  // namespace mmdebias::core
