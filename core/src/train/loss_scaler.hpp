// The dynamic loss scale fp16 training needs (PyTorch's GradScaler, with its defaults): the loss is multiplied by
// the scale before backward so small gradients survive fp16, gradients are divided by it before anything reads
// them, and a step whose gradients overflowed (inf or NaN) is skipped and halves the scale; every 2000 good steps
// in a row double it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

namespace mmdebias::core {

/// What a checkpoint keeps of the scale so that a resumed run scales exactly as an uninterrupted one.
struct LossScaleState {
  double scale = 65536.0;   ///< The current scale (2^16 to start, as PyTorch's GradScaler).
  int64_t good_steps = 0;   ///< Steps without overflow since the scale last changed.
  int64_t skipped = 0;      ///< Steps skipped for overflow since the run started (reported).
};

/// run.loss_scale for run.precision: "auto" -> dynamic under fp16, none otherwise; "dynamic"; "none".
bool loss_scale_enabled(const std::string& loss_scale, bool fp16);

/// The dynamic loss scale of one run.
class LossScaler {
 public:
  /// Growth x2 after growth_interval good steps, backoff x0.5 on an overflow (PyTorch's defaults).
  static constexpr double kGrowth = 2.0, kBackoff = 0.5;
  static constexpr int64_t kGrowthInterval = 2000;

  explicit LossScaler(LossScaleState state = {}) : state_(state) {}
  /// loss x scale, to backpropagate.
  at::Tensor scale(const at::Tensor& loss) const;
  /// Divides every defined gradient of params by the scale in place; true when any held an inf or NaN (one read
  /// back to the host). Call once per step, after gradients are reduced over ranks (they then agree).
  bool unscale(const std::vector<at::Tensor>& params) const;
  /// After a step: an overflow halves the scale and restarts the count; kGrowthInterval good steps double it.
  void update(bool overflowed);
  /// The scale and its count, for checkpoints.
  const LossScaleState& state() const { return state_; }

 private:
  LossScaleState state_;
};

}  // namespace mmdebias::core
