#include "run/threads.hpp"

#include <algorithm>
#include <memory>
#include <thread>

#include <ATen/Parallel.h>
#include <tbb/global_control.h>

namespace mmdebias::core {

int set_thread_count(int threads) {
  int n = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(n);
  // One cap for oneTBB too, so the loader's arena and LibTorch's pool do not oversubscribe the cores.
  static std::unique_ptr<tbb::global_control> tbb_cap;
  tbb_cap = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(n));
  return n;
}

}  // namespace mmdebias::core
