// What training and components reduce through across data-parallel processes; a world of one needs no library.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

namespace mmdebias::core {

/// Reductions across data-parallel processes. The local one is the identity (a world of one). Tensors may live on any
/// device: each implementation moves them to where its backend reduces and back.
class Collective {
 public:
  virtual ~Collective() = default;
  /// This process's rank.
  virtual int rank() const { return 0; }
  /// Number of processes.
  virtual int world_size() const { return 1; }
  /// Sums in place over all ranks.
  virtual void all_reduce_sum(at::Tensor& tensor) {}
  /// Concatenates every rank's tensor along dim 0, in rank order (sizes along dim 0 may differ).
  virtual at::Tensor all_gather(const at::Tensor& tensor) { return tensor; }
  /// Overwrites tensor on every rank with rank 0's.
  virtual void broadcast(at::Tensor& tensor) {}
  /// Starts summing tensor in place over all ranks and returns at once; the returned function waits until it is done
  /// (and throws as all_reduce_sum would). Reductions started on every rank in the same order overlap what follows.
  virtual std::function<void()> start_all_reduce_sum(at::Tensor& tensor) {
    return [] {};
  }
  /// Rank 0's string on every rank.
  virtual std::string broadcast_string(const std::string& text) { return text; }
};

/// Every rank's text, in rank order (lengths may differ); {text} in a world of one.
std::vector<std::string> all_gather_strings(Collective& collective, const std::string& text);

}  // namespace mmdebias::core
