#include "pipeline/memory_budget.hpp"

#include "compat/torch.hpp"

#include <atomic>
#include <mutex>
#include <unordered_map>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>

namespace mmdebias::core {
namespace {

std::string gib(uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f GiB", static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0));
  return text;
}

// A number from a one-line cgroup file, or 0 when absent or "max".
uint64_t cgroup_value(const char* file) {
  std::ifstream in(file);
  std::string text;
  if (!(in >> text) || text == "max") return 0;
  try {
    return std::stoull(text);
  } catch (const std::exception&) {
    return 0;
  }
}

}  // namespace

uint64_t available_memory_bytes() {
  uint64_t available = 0;
  std::ifstream meminfo("/proc/meminfo");
  for (std::string key; meminfo >> key;) {
    uint64_t kib = 0;
    meminfo >> kib;
    if (key == "MemAvailable:") { available = kib * 1024; break; }
    meminfo.ignore(256, '\n');
  }
  const uint64_t max = cgroup_value("/sys/fs/cgroup/memory.max");
  const uint64_t current = cgroup_value("/sys/fs/cgroup/memory.current");
  if (max > 0) available = std::min(available == 0 ? max : available, max > current ? max - current : 0);
  return available;
}

// Bytes allocated while a budget was alive and not yet freed; outlives every budget (the model's tensors do).
std::atomic<uint64_t> g_live{0};

// The wrapped allocations by their data pointer, which is also their DataPtr's context: kernels that take raw
// memory (Allocator::raw_allocate, e.g. a convolution's workspace) require the two to be equal.
std::mutex g_tracked_mutex;
std::unordered_map<void*, std::pair<c10::DataPtr, size_t>>& tracked() {
  static auto* map = new std::unordered_map<void*, std::pair<c10::DataPtr, size_t>>();  // outlives every tensor
  return *map;
}

void free_tracked(void* data) {
  c10::DataPtr original;  // freed after the lock is released, through its own deleter
  {
    std::lock_guard<std::mutex> lock(g_tracked_mutex);
    auto it = tracked().find(data);
    if (it == tracked().end()) return;
    g_live.fetch_sub(it->second.second);
    original = std::move(it->second.first);
    tracked().erase(it);
  }
}

// Wraps LibTorch's CPU allocator for the budget's lifetime, counting live bytes.
struct AllocationBudget::Counting final : compat::Allocator {
  c10::Allocator* inner;
  uint64_t available, budget, live_before;
  int copies;

  Counting(c10::Allocator* wrapped, uint64_t avail, int n)
      : inner(wrapped), available(avail), budget(avail / n), live_before(g_live.load()), copies(n) {}

  c10::DataPtr allocate_bytes(size_t n) override {
    const uint64_t after = g_live.fetch_add(n) + n - live_before;
    if (after > budget) {
      g_live.fetch_sub(n);
      throw std::runtime_error("its parameters need more memory than this machine has: a tensor of " + gib(n) + " (" +
                               gib(after) + " in all so far), and training holds " + std::to_string(copies) +
                               " copies of each (value, gradient, optimizer state), of the " + gib(available) +
                               " available; refused before allocating it: lower the sizes in its options");
    }
    c10::DataPtr original = inner->allocate(n);
    void* data = original.get();
    const c10::Device device = original.device();
    if (!data) return original;  // zero bytes
    {
      std::lock_guard<std::mutex> lock(g_tracked_mutex);
      tracked()[data] = {std::move(original), n};
    }
    return {data, data, &free_tracked, device};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &free_tracked; }
};

AllocationBudget::AllocationBudget(uint64_t available_bytes, int copies)
    : counting_(std::make_unique<Counting>(c10::GetAllocator(c10::DeviceType::CPU), available_bytes, std::max(1, copies))) {
  c10::SetAllocator(c10::DeviceType::CPU, counting_.get());
}

AllocationBudget::~AllocationBudget() { c10::SetAllocator(c10::DeviceType::CPU, counting_->inner); }

}  // namespace mmdebias::core
