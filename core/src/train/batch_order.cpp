// The epoch order and the rank's slice of each global batch (declared in train/data_loader.hpp, whose comment says
// the rules): pure functions of the dataset size, the options, the seed and the epoch.
#include <random>
#include <stdexcept>
#include <string>

#include "train/data_loader.hpp"

namespace mmdebias::core {
namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// A uniform draw from [0, range), unbiased (Lemire's multiply-and-reject); defined here, not by the
// standard library's distributions, so the order is the same with every standard library.
uint64_t uniform_below(std::mt19937_64& gen, uint64_t range) {
  unsigned __int128 m = static_cast<unsigned __int128>(gen()) * range;
  auto low = static_cast<uint64_t>(m);
  if (low < range) {
    const uint64_t threshold = (0 - range) % range;
    while (low < threshold) {
      m = static_cast<unsigned __int128>(gen()) * range;
      low = static_cast<uint64_t>(m);
    }
  }
  return static_cast<uint64_t>(m >> 64);
}

}  // namespace

void validate(const LoaderOptions& o) {
  auto bad = [](const std::string& what) { throw std::invalid_argument("data loader: " + what); };
  if (o.batch_size < 1) bad("batch_size must be >= 1, got " + std::to_string(o.batch_size));
  if (o.world_size < 1) bad("world_size must be >= 1, got " + std::to_string(o.world_size));
  int64_t global = 0;  // every index computation starts from batch_size * world_size
  if (__builtin_mul_overflow(o.batch_size, static_cast<int64_t>(o.world_size), &global))
    bad("batch_size " + std::to_string(o.batch_size) + " times world_size " + std::to_string(o.world_size) +
        " is too large");
  if (o.rank < 0 || o.rank >= o.world_size)
    bad("rank must be in [0, " + std::to_string(o.world_size) + "), got " + std::to_string(o.rank));
  if (o.prefetch < 0)
    bad("prefetch must be >= 0 (0: read in line, no loader thread), got " + std::to_string(o.prefetch));
  if (o.threads < 1) bad("threads must be >= 1, got " + std::to_string(o.threads));
}

std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch, bool shuffle) {
  if (n < 0) throw std::invalid_argument("data loader: negative dataset size " + std::to_string(n));
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  if (!shuffle) return order;
  std::mt19937_64 gen(splitmix64(splitmix64(seed) ^ static_cast<uint64_t>(epoch)));
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[uniform_below(gen, i)]);
  return order;
}

int64_t batches_per_epoch(int64_t n, const LoaderOptions& o) {
  const int64_t global = o.batch_size * o.world_size;
  return n / global + (!o.drop_last && n % global != 0 ? 1 : 0);  // not (n + global - 1) / global: that can overflow
}

std::vector<int64_t> batch_indices(const std::vector<int64_t>& order, const LoaderOptions& o, int64_t batch) {
  const auto n = static_cast<int64_t>(order.size());
  if (batch < 0 || batch >= batches_per_epoch(n, o))
    throw std::out_of_range("data loader: batch " + std::to_string(batch) + " out of range [0, " +
                            std::to_string(batches_per_epoch(n, o)) + ")");
  const int64_t global = o.batch_size * o.world_size;
  const int64_t start = batch * global;
  const int64_t size = std::min(global, n - start);
  int64_t begin = start + o.rank * o.batch_size;
  int64_t count = o.batch_size;
  if (size < global) {  // the last global batch without drop_last: even contiguous split over ranks
    const int64_t share = size / o.world_size, extra = size % o.world_size;
    begin = start + o.rank * share + std::min<int64_t>(o.rank, extra);
    count = share + (o.rank < extra ? 1 : 0);
  }
  return {order.begin() + begin, order.begin() + begin + count};
}

}  // namespace mmdebias::core
