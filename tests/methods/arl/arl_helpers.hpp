// Shared helpers for the arl plugin's tests: components from the real loader, a training context, and one
// training step run in the engine's hook order (on_features, fuse, head, observe, loss, backward).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include "plugins/std_helpers.hpp"

namespace arltest {

namespace sdk = mmdebias::sdk;
using stdtest::registry;

/// A world of one that records metrics and answers a chosen phase and epoch.
class RecordingContext : public sdk::Context {
 public:
  /// A context in phase, at epoch.
  explicit RecordingContext(sdk::Phase phase = sdk::Phase::Train, int64_t epoch = 0) : phase_(phase), epoch_(epoch) {}
  void log(sdk::LogLevel, const std::string&) override {}
  at::Generator& rng(const std::string&) override { throw std::logic_error("RecordingContext has no RNG streams"); }
  at::Generator& shared_rng(const std::string&) override { throw std::logic_error("RecordingContext has no RNG streams"); }
  void metric(const std::string& name, double value) override { metrics[name] = value; }
  c10::Device device() const override { return c10::Device(c10::kCPU); }
  sdk::Phase phase() const override { return phase_; }
  int64_t step() const override { return 0; }
  int64_t epoch() const override { return epoch_; }
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  void all_reduce_sum(at::Tensor&) override { ++reductions; }
  at::Tensor all_gather(const at::Tensor& t) override { return t; }

  std::map<std::string, double> metrics;  ///< Last value of each metric.
  int reductions = 0;                     ///< Number of all_reduce_sum calls.
  sdk::Phase phase_;                      ///< What phase() answers.
  int64_t epoch_;                         ///< What epoch() answers.
};

/// A Model that lends nothing (arl.reweight does not re-run the model).
class NoModel : public sdk::Model {
 public:
  const std::vector<std::string>& modalities() const override { return names_; }
  sdk::Encoder& encoder(const std::string&) override { throw std::logic_error("NoModel has no encoders"); }
  sdk::Fusion& fusion() override { throw std::logic_error("NoModel has no fusion"); }
  sdk::ForwardRecord forward(const sdk::Batch&, const sdk::AttentionSites&) override { throw std::logic_error("NoModel"); }

 private:
  std::vector<std::string> names_;
};

/// Dense modalities m0..m{M-1} of width dim.
inline std::vector<sdk::ModalitySpec> modalities(int m, int64_t dim = 3) {
  std::vector<sdk::ModalitySpec> out;
  for (int i = 0; i < m; ++i) out.push_back(stdtest::dense("m" + std::to_string(i), {dim}));
  return out;
}

/// Build arguments for an arl component over M modalities with C classes.
inline sdk::BuildArgs args(const std::string& type, int m, std::map<std::string, sdk::OptionValue> given = {},
                           int64_t classes = 3) {
  sdk::BuildArgs a;
  a.name = type == "arl.uncertainty" ? "estimators.arl" : "interventions.arl";
  a.model.inputs = modalities(m);
  a.model.num_classes = classes;
  a.options = stdtest::options(type, std::move(given));
  return a;
}

/// arl.uncertainty over M modalities.
inline std::shared_ptr<sdk::BiasEstimator> estimator(int m, std::map<std::string, sdk::OptionValue> given = {}) {
  return registry().make_bias_estimator("arl.uncertainty", args("arl.uncertainty", m, std::move(given)));
}

/// arl.reweight over M modalities.
inline std::shared_ptr<sdk::Intervention> intervention(int m, std::map<std::string, sdk::OptionValue> given = {}) {
  return registry().make_intervention("arl.reweight", args("arl.reweight", m, std::move(given)));
}

/// A record holding only per-modality logits (m0, m1, ...).
inline sdk::ForwardRecord logits_record(const std::vector<at::Tensor>& logits) {
  sdk::ForwardRecord r;
  for (size_t i = 0; i < logits.size(); ++i) r.modality_logits["m" + std::to_string(i)] = logits[i];
  return r;
}

/// The weights the estimator publishes for these per-modality logits (entropy needs no labels).
inline at::Tensor weights_of(sdk::BiasEstimator& e, const std::vector<at::Tensor>& logits, const at::Tensor& label,
                             RecordingContext& ctx, const std::string& name = "arl.weights") {
  sdk::Estimates est;
  sdk::ForwardRecord r = logits_record(logits);
  e.observe(r, est, ctx);
  sdk::Batch b;
  b.label = label;
  sdk::LossTerms terms;
  e.loss(r, b, est, terms, ctx);
  return est.get(name).clone();
}

/// Per-modality encoders z_m = tanh(x_m W_m^T + b_m) with parameters that require gradients.
struct Encoders {
  std::vector<at::Tensor> weight, bias;  ///< W_m [D_m, Din], b_m [D_m].
  /// z_m for inputs x_m.
  std::vector<at::Tensor> operator()(const std::vector<at::Tensor>& x) const {
    std::vector<at::Tensor> z;
    for (size_t m = 0; m < x.size(); ++m) z.push_back(at::tanh(at::linear(x[m], weight[m], bias[m])));
    return z;
  }
};

/// What one training step produced.
struct StepResult {
  sdk::Estimates estimates;  ///< Published by arl.uncertainty.
  at::Tensor bias_term;      ///< Σ_m CE(out_m), unweighted, as arl.reweight added it.
  double bias_weight = 0;    ///< Its weight.
  at::Tensor total;          ///< CE(out) * task weight + weighted terms.
  at::Tensor logits;         ///< Fused logits.
  std::map<std::string, at::Tensor> modality_logits;  ///< Per-modality logits.
};

/// One training step in the engine's order through a std.concat fusion; leaves gradients in the parameters.
inline StepResult train_step(const Encoders& enc, sdk::Fusion& fusion, sdk::BiasEstimator& est, sdk::Intervention& arl,
                             const std::vector<at::Tensor>& x, const at::Tensor& label, RecordingContext& ctx) {
  StepResult out;
  sdk::ForwardRecord record;
  std::vector<at::Tensor> z = enc(x);
  for (size_t m = 0; m < z.size(); ++m) {
    const std::string name = "m" + std::to_string(m);
    record.features[name] = arl.on_features(name, z[m], ctx);  // 2
  }
  sdk::AttentionSites sites;
  record.fused_input = record.fused = fusion.fuse(record.features, sites);
  record.logits = fusion.head(record.fused);
  for (const auto& kv : record.features) record.modality_logits[kv.first] = fusion.modality_head(kv.first, kv.second);
  est.observe(record, out.estimates, ctx);  // 5
  sdk::Batch batch;
  batch.label = label;
  sdk::LossTerms terms;
  NoModel model;
  est.loss(record, batch, out.estimates, terms, ctx);  // 6, estimators first as in the engine
  arl.loss(record, batch, out.estimates, model, terms, ctx);
  out.total = at::cross_entropy_loss(record.logits, label) * terms.task_weight();
  for (const auto& t : terms.terms()) {
    out.total = out.total + t.value * t.weight;
    if (t.name == "bias") {
      out.bias_term = t.value.detach();
      out.bias_weight = t.weight;
    }
  }
  out.total.backward();
  out.logits = record.logits.detach();
  for (const auto& kv : record.modality_logits) out.modality_logits[kv.first] = kv.second.detach();
  return out;
}

}  // namespace arltest
