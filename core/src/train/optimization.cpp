#include "train/optimization.hpp"

#include <cmath>

#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>

#include "mmdebias/core/errors.hpp"

namespace mmdebias::core {

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const std::vector<ParameterGroup>& groups, const sdk::Options& train,
                                                        std::vector<double>& base_lrs) {
  const std::string kind = train.string("optimizer");
  const double lr = train.number("lr"), wd = train.number("weight_decay");
  const auto& betas = train.numbers("betas");
  if (betas.size() != 2) throw InputError("train.betas must hold two numbers, got " + std::to_string(betas.size()));
  base_lrs.clear();
  std::vector<torch::optim::OptimizerParamGroup> param_groups;
  for (const auto& g : groups) {
    double group_lr = g.lr.value_or(lr), group_wd = g.weight_decay.value_or(wd);
    base_lrs.push_back(group_lr);
    std::unique_ptr<torch::optim::OptimizerOptions> options;
    if (kind == "sgd")
      options = std::make_unique<torch::optim::SGDOptions>(torch::optim::SGDOptions(group_lr)
                                                               .momentum(train.number("momentum"))
                                                               .nesterov(train.boolean("nesterov"))
                                                               .weight_decay(group_wd));
    else if (kind == "adam")
      options = std::make_unique<torch::optim::AdamOptions>(
          torch::optim::AdamOptions(group_lr).betas({betas[0], betas[1]}).weight_decay(group_wd));
    else
      options = std::make_unique<torch::optim::AdamWOptions>(
          torch::optim::AdamWOptions(group_lr).betas({betas[0], betas[1]}).weight_decay(group_wd));
    param_groups.emplace_back(g.parameters, std::move(options));
  }
  if (param_groups.empty()) throw InputError("the model has no trainable parameters");
  if (kind == "sgd") {
    if (train.boolean("nesterov") && train.number("momentum") <= 0)
      throw InputError("train.nesterov needs train.momentum > 0");
    return std::make_unique<torch::optim::SGD>(std::move(param_groups), torch::optim::SGDOptions(lr));
  }
  if (kind == "adam") return std::make_unique<torch::optim::Adam>(std::move(param_groups), torch::optim::AdamOptions(lr));
  return std::make_unique<torch::optim::AdamW>(std::move(param_groups), torch::optim::AdamWOptions(lr));
}

LrSchedule::LrSchedule(const sdk::Options& train, int64_t total_steps)
    : kind_(train.string("scheduler")),
      warmup_(train.integer("warmup_steps")),
      step_size_(std::max<int64_t>(1, train.integer("step_size"))),
      total_(std::max<int64_t>(1, total_steps)),
      milestones_(train.integers("milestones")),
      gamma_(train.number("gamma")) {}

double LrSchedule::factor(int64_t step) const {
  if (warmup_ > 0 && step < warmup_) return static_cast<double>(step + 1) / static_cast<double>(warmup_);
  int64_t s = step - warmup_;  // decay counts from the end of warm-up
  if (kind_ == "step") return std::pow(gamma_, static_cast<double>(s / step_size_));
  if (kind_ == "multistep") {
    int passed = 0;
    for (int64_t m : milestones_) passed += step >= m ? 1 : 0;  // milestones are absolute steps, as in PyTorch
    return std::pow(gamma_, passed);
  }
  if (kind_ == "cosine") {
    double span = static_cast<double>(std::max<int64_t>(1, total_ - warmup_));
    double t = std::min(1.0, static_cast<double>(s) / span);
    return 0.5 * (1.0 + std::cos(M_PI * t));
  }
  return 1.0;
}

void set_learning_rates(torch::optim::Optimizer& optimizer, const std::vector<double>& base_lrs, double factor) {
  auto& groups = optimizer.param_groups();
  for (size_t i = 0; i < groups.size() && i < base_lrs.size(); ++i) groups[i].options().set_lr(base_lrs[i] * factor);
}

}  // namespace mmdebias::core
