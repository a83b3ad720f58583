#include "train/loss_scaler.hpp"

#include <ATen/ATen.h>

namespace mmdebias::core {

bool loss_scale_enabled(const std::string& loss_scale, bool fp16) {
  if (loss_scale == "auto") return fp16;
  return loss_scale == "dynamic";
}

at::Tensor LossScaler::scale(const at::Tensor& loss) const { return loss * state_.scale; }

bool LossScaler::unscale(const std::vector<at::Tensor>& params) const {
  std::vector<at::Tensor> grads;
  for (const auto& p : params)
    if (p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) return false;
  const double inverse = 1.0 / state_.scale;
  if (grads.front().is_cuda()) {
    // One fused kernel per dtype and device: what GradScaler runs on GPUs.
    at::Tensor found = at::zeros({1}, grads.front().options().dtype(at::kFloat));
    at::Tensor inv = at::full({1}, inverse, grads.front().options().dtype(at::kFloat));
    at::_amp_foreach_non_finite_check_and_unscale_(grads, found, inv);
    return found.item<float>() != 0.0f;
  }
  // Elsewhere (CPU runs with run.loss_scale=dynamic; 1.13 has no CPU kernel for the fused op): a finite check per
  // gradient, summed so that one value is read back.
  std::vector<at::Tensor> bad;
  bad.reserve(grads.size());
  for (auto& g : grads) {
    g.mul_(inverse);
    bad.push_back(g.isfinite().all().logical_not());
  }
  return at::stack(bad).any().item<bool>();
}

void LossScaler::update(bool overflowed) {
  if (overflowed) {
    state_.scale *= kBackoff;
    state_.good_steps = 0;
    ++state_.skipped;
    return;
  }
  if (++state_.good_steps >= kGrowthInterval) {
    state_.scale *= kGrowth;
    state_.good_steps = 0;
  }
}

}  // namespace mmdebias::core
