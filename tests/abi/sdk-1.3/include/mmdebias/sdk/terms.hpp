// Estimates (what bias estimators publish) and loss terms (what hooks add to the objective).
#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

namespace mmdebias::sdk {

/// Named tensors published by bias estimators in one step and read by interventions.
class Estimates {
 public:
  /// Publishes an estimate (the host refuses two estimators publishing the same name).
  void set(const std::string& name, at::Tensor value) { values_[name] = std::move(value); }
  /// True when name was published.
  bool has(const std::string& name) const { return values_.count(name) != 0; }
  /// The estimate called name; throws naming what was published when it is missing.
  const at::Tensor& get(const std::string& name) const {
    auto it = values_.find(name);
    if (it != values_.end()) return it->second;
    std::string known;
    for (const auto& kv : values_) known += (known.empty() ? "" : ", ") + kv.first;
    throw std::out_of_range("estimate '" + name + "' was not published (published: " + (known.empty() ? "none" : known) + ")");
  }
  /// All estimates by name.
  const std::map<std::string, at::Tensor>& all() const { return values_; }
  /// Removes every estimate (the host does this at the start of each step).
  void clear() { values_.clear(); }

 private:
  std::map<std::string, at::Tensor> values_;
};

/// One named, weighted term of the objective.
struct LossTerm {
  std::string name;   ///< Term name, prefixed by the host with the component's name when logged.
  at::Tensor value;   ///< Scalar tensor (graph attached).
  double weight = 1;  ///< Multiplier applied by the host; the logged value is unweighted.
};

/// The terms added in one step; the host sums weight * value with the task loss.
class LossTerms {
 public:
  /// Adds a term; value must be a scalar tensor.
  void add(std::string name, at::Tensor value, double weight = 1.0) {
    if (!value.defined() || value.numel() != 1) throw std::invalid_argument("loss term '" + name + "' must be a scalar tensor");
    terms_.push_back({std::move(name), std::move(value), weight});
  }
  /// Terms in the order they were added.
  const std::vector<LossTerm>& terms() const { return terms_; }
  /// Mutable access for the host (prefixing names, scaling).
  std::vector<LossTerm>& terms() { return terms_; }
  /// Multiplies the host's task loss (cross-entropy of the fused logits) by factor; for components whose
  /// objective replaces or rescales it (e.g. an average of fused and unimodal losses). Calls compose.
  void scale_task_loss(double factor) { task_weight_ *= factor; }
  /// The factor applied to the task loss (1 unless a component scaled it).
  double task_weight() const { return task_weight_; }

 private:
  std::vector<LossTerm> terms_;
  double task_weight_ = 1.0;
};

}  // namespace mmdebias::sdk
