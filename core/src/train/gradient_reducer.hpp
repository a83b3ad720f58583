// Data-parallel gradient averaging that overlaps backward, as PyTorch's DDP does: parameters are grouped into buckets
// in the order their gradients become ready (the reverse of registration), and a bucket's all-reduce starts as soon
// as its last gradient is accumulated, while backward goes on. The last bucket starts when backward has returned and
// carries what ranks agree on besides gradients (the loss terms, the stop request, which parameters each rank used),
// so that a step stays one round of collectives.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include <ATen/core/Tensor.h>

#include "dist/collective.hpp"

namespace mmdebias::core {

/// Averages the gradients of a fixed list of parameters over the ranks of a collective, bucket by bucket.
class GradientReducer {
 public:
  /// Buckets of about bucket_bytes of one dtype over parameters (those the optimizer steps); hooks each parameter's
  /// gradient accumulator. Every rank must pass the same parameters in the same order.
  GradientReducer(std::vector<at::Tensor> parameters, size_t bucket_bytes, Collective& collective);
  /// Removes the hooks.
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;             ///< Not copyable (owns hooks).
  GradientReducer& operator=(const GradientReducer&) = delete;  ///< Not copyable (owns hooks).

  /// The next backward is the step's last: buckets start reducing as their gradients become ready.
  void arm();
  /// After the step's last backward: starts the buckets not yet started (the last one carrying extra, a 1-D floating
  /// tensor summed over ranks in place), waits for all, and leaves every gradient averaged over ranks (undefined where
  /// no rank used the parameter; the zeros it sent where some rank did not).
  void finish(at::Tensor& extra);

  /// Buckets started during the last backward, before it returned (how much reduction overlapped it).
  size_t started_during_backward() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace mmdebias::core
