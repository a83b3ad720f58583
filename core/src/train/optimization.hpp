// Optimizers with a parameter group per component, and the learning-rate schedule as a function of the step.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/optim/optimizer.h>

#include "mmdebias/sdk/options.hpp"
#include "pipeline/model.hpp"

namespace mmdebias::core {

/// Makes the optimizer the `train` section names (sgd, adam, adamw), one parameter group per component;
/// a component's own lr / weight_decay override the section's. Returns also each group's base lr.
std::unique_ptr<torch::optim::Optimizer> make_optimizer(const std::vector<ParameterGroup>& groups,
                                                        const sdk::Options& train, std::vector<double>& base_lrs);

/// The learning-rate multiplier at a step: linear warm-up, then none / step / multistep / cosine decay.
class LrSchedule {
 public:
  /// Reads scheduler, warmup_steps, step_size, milestones, gamma from `train`; total_steps bounds cosine.
  LrSchedule(const sdk::Options& train, int64_t total_steps);
  /// Multiplier of the base learning rate for the optimizer step numbered step (0-based).
  double factor(int64_t step) const;

 private:
  std::string kind_;
  int64_t warmup_, step_size_, total_;
  std::vector<int64_t> milestones_;
  double gamma_;
};

/// Sets every group's learning rate to its base times factor.
void set_learning_rates(torch::optim::Optimizer& optimizer, const std::vector<double>& base_lrs, double factor);

}  // namespace mmdebias::core
