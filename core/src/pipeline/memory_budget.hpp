// Refusing a model that cannot fit before it is allocated and initialised: `hidden: [100000000]` used to
// take 6.8 GB and 40 s inside `validate` before anything could be said about it.
#pragma once

#include <cstdint>
#include <memory>

namespace mmdebias::core {

/// Bytes this process may still use: /proc/meminfo's MemAvailable, lowered by a cgroup v2 memory.max.
uint64_t available_memory_bytes();

/// While alive, LibTorch's CPU allocations are counted, and one that would take the total past budget
/// bytes throws std::runtime_error (a constructor's error, located at its component by the caller).
/// Not nested; meant for single-threaded construction.
class AllocationBudget {
 public:
  /// `copies`: how many times each allocated byte is needed when training (value, gradient, optimizer state),
  /// so the budget is the available memory divided by it; said in the message.
  AllocationBudget(uint64_t available_bytes, int copies);
  ~AllocationBudget();
  AllocationBudget(const AllocationBudget&) = delete;
  AllocationBudget& operator=(const AllocationBudget&) = delete;

 private:
  struct Counting;
  std::unique_ptr<Counting> counting_;
};

}  // namespace mmdebias::core
