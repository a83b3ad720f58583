// Test doubles for unit-testing a component in a plugin's own test executable, without the host: a context, a
// small real model, batches and step records, option values from a schema, and a registrar that keeps factories.
// Not part of the plugin boundary (nothing here crosses it); include it from tests only, and before the test
// framework's header: LibTorch's c10 defines its own CHECK macro, which would hide doctest's or Catch2's.
#pragma once

#include <cctype>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <c10/util/Exception.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

#include "mmdebias/sdk/detach.hpp"
#include "mmdebias/sdk/sdk.hpp"

namespace mmdebias::sdk::testing {

/// A host context for one component in a world of one on the CPU. Its fields are public: set the phase, step or
/// epoch a test needs, read what the component logged and recorded. Streams are seeded from seed and the order of
/// first use, not as the host seeds them: compare a component with itself, not with a run's draws.
class FakeContext : public Context {
 public:
  Phase phase_value = Phase::Train;  ///< What phase() answers.
  int64_t step_value = 0;            ///< What step() answers.
  int64_t epoch_value = 0;           ///< What epoch() answers.
  uint64_t seed = 0;                 ///< Seed of the first stream; each new stream takes the next.
  Model* model_value = nullptr;      ///< What model() lends.
  c10::Device device_value{c10::kCPU};  ///< What device() answers (meta for a DeviceCheck).
  std::map<std::string, double> metrics;                      ///< Last value of each metric(); a tensor's only on the CPU.
  std::map<std::string, at::Tensor> tensor_metrics;           ///< Last tensor of each metric(name, tensor), unread.
  std::vector<std::pair<LogLevel, std::string>> logs;         ///< Every log() line.
  int reductions = 0;                                         ///< Number of all_reduce_sum / all_gather calls.

  /// A context in phase.
  explicit FakeContext(Phase phase = Phase::Train) : phase_value(phase) {}
  void log(LogLevel level, const std::string& message) override { logs.emplace_back(level, message); }
  at::Generator& rng(const std::string& stream) override { return stream_of("rank/" + stream); }
  at::Generator& shared_rng(const std::string& stream) override { return stream_of("shared/" + stream); }
  void metric(const std::string& name, double value) override {
    tensor_metrics.erase(name);
    metrics[name] = value;
  }
  using Context::metric;
  /// Kept detached in tensor_metrics; on the CPU its value also lands in metrics (no device sync), on another device
  /// (meta in a DeviceCheck, a GPU) it is never read here, as the host reads it only when it flushes.
  void metric_tensor(const std::string& name, const at::Tensor& value) override {
    TORCH_CHECK(value.numel() == 1, "metric ", name, ": a tensor metric must have one element, got shape ", value.sizes());
    tensor_metrics[name] = value.detach().reshape({}).clone();
    if (value.device().is_cpu())
      metrics[name] = value.item<double>();
    else
      metrics.erase(name);
  }
  c10::Device device() const override { return device_value; }
  Phase phase() const override { return phase_value; }
  int64_t step() const override { return step_value; }
  int64_t epoch() const override { return epoch_value; }
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  void all_reduce_sum(at::Tensor&) override { ++reductions; }
  at::Tensor all_gather(const at::Tensor& tensor) override {
    ++reductions;
    return tensor;
  }
  Model* model() override { return model_value; }

 private:
  at::Generator& stream_of(const std::string& key) {
    auto it = streams_.find(key);
    if (it == streams_.end())
      it = streams_.emplace(key, at::make_generator<at::CPUGeneratorImpl>(seed + streams_.size())).first;
    return it->second;
  }
  std::map<std::string, at::Generator> streams_;
};

/// A linear encoder: dense input [B, ...] flattened to [B, in], mapped to features [B, dim].
class LinearEncoder : public Encoder {
 public:
  /// in: flattened input width; dim: feature width.
  LinearEncoder(int64_t in, int64_t dim) : dim_(dim), linear_(register_module("linear", torch::nn::Linear(in, dim))) {}
  FeatureSpec output() const override { return {dim_, false, 0}; }
  at::Tensor encode(const at::Tensor& input, const AttentionSites&) override { return linear_->forward(input.flatten(1)); }

 private:
  int64_t dim_;
  torch::nn::Linear linear_;
};

/// Concatenation of the modalities' features and one linear head; per-modality logits W[0; z_m; 0] + b.
class ConcatFusion : public Fusion {
 public:
  /// dims: feature width per modality, in modality order; classes: number of classes.
  ConcatFusion(std::vector<std::pair<std::string, int64_t>> dims, int64_t classes) : dims_(std::move(dims)) {
    for (const auto& d : dims_) width_ += d.second;
    head_ = register_module("head", torch::nn::Linear(width_, classes));
  }
  int64_t fused_dim() const override { return width_; }
  at::Tensor fuse(const Features& features, const AttentionSites&) override {
    std::vector<at::Tensor> parts;
    for (const auto& d : dims_) parts.push_back(features.at(d.first));
    return at::cat(parts, 1);
  }
  at::Tensor head(const at::Tensor& fused) override { return head_->forward(fused); }
  bool has_modality_heads() const override { return true; }
  at::Tensor modality_head(const std::string& modality, const at::Tensor& features) override {
    int64_t start = 0;
    for (const auto& d : dims_) {
      if (d.first == modality) return at::linear(features, head_->weight.narrow(1, start, d.second), head_->bias);
      start += d.second;
    }
    throw std::out_of_range("ConcatFusion has no modality '" + modality + "'");
  }

 private:
  std::vector<std::pair<std::string, int64_t>> dims_;
  int64_t width_ = 0;
  torch::nn::Linear head_{nullptr};
};

/// A small real Model: one LinearEncoder per modality and a ConcatFusion, built on the CPU from the global
/// generator (at::manual_seed first for repeatable weights). forward() fills features, fused, logits and
/// per-modality logits, as the host's plain forward does; gradients flow into encoder(m).parameters().
class FakeModel : public Model {
 public:
  /// inputs: flattened input width per modality, in order; dim: feature width of every encoder.
  FakeModel(std::vector<std::pair<std::string, int64_t>> inputs, int64_t dim, int64_t classes) {
    std::vector<std::pair<std::string, int64_t>> dims;
    for (const auto& [name, width] : inputs) {
      names_.push_back(name);
      encoders_[name] = std::make_shared<LinearEncoder>(width, dim);
      dims.emplace_back(name, dim);
      spec_.inputs.push_back(ModalitySpec{name, InputKind::Dense, {width}, 0});
      spec_.features[name] = FeatureSpec{dim, false, 0};
    }
    fusion_ = std::make_shared<ConcatFusion>(dims, classes);
    spec_.fused_dim = fusion_->fused_dim();
    spec_.num_classes = classes;
  }
  const std::vector<std::string>& modalities() const override { return names_; }
  Encoder& encoder(const std::string& modality) override { return *encoders_.at(modality); }
  Fusion& fusion() override { return *fusion_; }
  ForwardRecord forward(const Batch& batch, const AttentionSites& sites) override {
    ForwardRecord record;
    for (const auto& m : names_) record.features[m] = encoders_.at(m)->encode(batch.inputs.at(m), sites);
    record.fused_input = fusion_->fuse(record.features, sites);
    record.fused = record.fused_input;
    record.logits = fusion_->head(record.fused);
    for (const auto& m : names_) record.modality_logits[m] = fusion_->modality_head(m, record.features.at(m));
    return record;
  }
  /// The ModelSpec a factory would receive for this model (BuildArgs::model).
  const ModelSpec& spec() const { return spec_; }
  /// Every trainable parameter: encoders in modality order, then the fusion.
  std::vector<at::Tensor> parameters() const {
    std::vector<at::Tensor> out;
    for (const auto& m : names_)
      for (const auto& p : encoders_.at(m)->parameters()) out.push_back(p);
    for (const auto& p : fusion_->parameters()) out.push_back(p);
    return out;
  }

 private:
  std::vector<std::string> names_;
  std::map<std::string, std::shared_ptr<LinearEncoder>> encoders_;
  std::shared_ptr<ConcatFusion> fusion_;
  ModelSpec spec_;
};

/// A batch of the given inputs and labels: group and environment -1, ood false, index 0..B-1.
inline Batch make_batch(std::map<std::string, at::Tensor> inputs, const at::Tensor& labels) {
  Batch b;
  b.inputs = std::move(inputs);
  b.label = labels.to(at::kLong);
  const int64_t n = b.label.size(0);
  b.group = at::full({n}, -1, at::kLong);
  b.environment = at::full({n}, -1, at::kLong);
  b.ood = at::zeros({n}, at::kBool);
  b.index = at::arange(n, at::kLong);
  return b;
}

/// The batch the host collates from dataset.get() of each index: what Dataset::get_batch must equal bitwise.
inline Batch collate(const Dataset& dataset, const std::vector<int64_t>& indices) {
  std::vector<Sample> samples;
  for (int64_t i : indices) samples.push_back(dataset.get(i));
  Batch b;
  if (!samples.empty())
    for (const auto& [name, x] : samples.front().inputs) {
      std::vector<at::Tensor> rows;
      for (const auto& s : samples) rows.push_back(s.inputs.at(name));
      b.inputs[name] = at::stack(rows);
    }
  const int64_t n = static_cast<int64_t>(samples.size());
  b.label = at::empty({n}, at::kLong);
  b.group = at::empty({n}, at::kLong);
  b.environment = at::empty({n}, at::kLong);
  b.ood = at::empty({n}, at::kBool);
  for (int64_t i = 0; i < n; ++i) {
    const Sample& s = samples[static_cast<size_t>(i)];
    b.label[i] = s.label;
    b.group[i] = s.group;
    b.environment[i] = s.environment;
    b.ood[i] = s.ood;
  }
  b.index = at::tensor(indices, at::kLong);
  return b;
}

/// What hook 7 receives for a step of these micro-batches, each (batch, record), tensors detached as the host
/// detaches them.
inline StepRecords step_of(const std::vector<std::pair<Batch, ForwardRecord>>& micro_batches) {
  StepRecords step;
  for (const auto& [batch, record] : micro_batches) step.micro_batches.push_back(MicroBatch{batch, detached(record), {}});
  return step;
}

/// Option values as the host would hand them for schema: every default, overridden by given. Throws for a given
/// name the schema does not declare and for a required option without a value (ranges are the host's to check).
inline Options options_for(const Schema& schema, const std::map<std::string, OptionValue>& given = {}) {
  std::map<std::string, OptionValue> values;
  for (const auto& [name, value] : given) {
    if (!schema.find(name)) throw std::invalid_argument("option '" + name + "' is not declared");
    values[name] = value;
  }
  for (const auto& spec : schema.specs()) {
    if (values.count(spec.name)) continue;
    if (!spec.value) throw std::invalid_argument("option '" + spec.name + "' is required and has no value");
    values[spec.name] = *spec.value;
  }
  return Options(std::move(values));
}

/// Keeps what a plugin's registration declares, to build its components in a test as the host would.
class FakeRegistrar : public Registrar {
 public:
  void add_dataset(ComponentDecl decl, DatasetFactory make) override { keep(datasets_, std::move(decl), std::move(make)); }
  void add_encoder(ComponentDecl decl, EncoderFactory make) override { keep(encoders_, std::move(decl), std::move(make)); }
  void add_fusion(ComponentDecl decl, FusionFactory make) override { keep(fusions_, std::move(decl), std::move(make)); }
  void add_bias_estimator(ComponentDecl decl, BiasEstimatorFactory make) override {
    keep(estimators_, std::move(decl), std::move(make));
  }
  void add_intervention(ComponentDecl decl, InterventionFactory make) override {
    keep(interventions_, std::move(decl), std::move(make));
  }
  void add_scorer(ComponentDecl decl, ScorerFactory make) override { keep(scorers_, std::move(decl), std::move(make)); }
  void add_sink(ComponentDecl decl, SinkFactory make) override { keep(sinks_, std::move(decl), std::move(make)); }

  /// The declaration of a component by local name (any kind); throws when none was registered.
  const ComponentDecl& decl(const std::string& name) const {
    auto it = decls_.find(name);
    if (it == decls_.end()) throw std::out_of_range("no component '" + name + "' was registered");
    return it->second;
  }
  /// Names registered, in order.
  const std::vector<std::string>& names() const { return names_; }
  /// Builds an intervention with options_for(its schema, given) and the rest of args.
  std::shared_ptr<Intervention> intervention(const std::string& name, BuildArgs args = {},
                                             const std::map<std::string, OptionValue>& given = {}) const {
    return build(interventions_, name, std::move(args), given);
  }
  /// Builds a bias estimator likewise.
  std::shared_ptr<BiasEstimator> estimator(const std::string& name, BuildArgs args = {},
                                           const std::map<std::string, OptionValue>& given = {}) const {
    return build(estimators_, name, std::move(args), given);
  }
  /// Builds a scorer likewise.
  std::shared_ptr<Scorer> scorer(const std::string& name, BuildArgs args = {}, const std::map<std::string, OptionValue>& given = {}) const {
    return build(scorers_, name, std::move(args), given);
  }
  /// Builds an encoder likewise.
  std::shared_ptr<Encoder> encoder(const std::string& name, BuildArgs args = {}, const std::map<std::string, OptionValue>& given = {}) const {
    return build(encoders_, name, std::move(args), given);
  }
  /// Builds a fusion likewise.
  std::shared_ptr<Fusion> fusion(const std::string& name, BuildArgs args = {}, const std::map<std::string, OptionValue>& given = {}) const {
    return build(fusions_, name, std::move(args), given);
  }
  /// Builds a dataset likewise.
  std::shared_ptr<Dataset> dataset(const std::string& name, BuildArgs args = {}, const std::map<std::string, OptionValue>& given = {}) const {
    return build(datasets_, name, std::move(args), given);
  }
  /// Builds a metric sink likewise (not opened).
  std::shared_ptr<MetricSink> sink(const std::string& name, BuildArgs args = {}, const std::map<std::string, OptionValue>& given = {}) const {
    return build(sinks_, name, std::move(args), given);
  }

 private:
  template <class Factory>
  void keep(std::map<std::string, Factory>& into, ComponentDecl decl, Factory make) {
    if (decls_.count(decl.name)) throw std::invalid_argument("component '" + decl.name + "' registered twice");
    names_.push_back(decl.name);
    into[decl.name] = std::move(make);
    decls_.emplace(decl.name, std::move(decl));
  }
  template <class Factory>
  std::invoke_result_t<const Factory&, const BuildArgs&> build(const std::map<std::string, Factory>& from, const std::string& name,
                                                              BuildArgs args, const std::map<std::string, OptionValue>& given) const {
    auto it = from.find(name);
    if (it == from.end()) throw std::out_of_range("no component '" + name + "' of that kind was registered");
    args.options = options_for(decl(name).schema, given);
    if (args.name.empty()) args.name = name;
    return it->second(args);
  }
  std::map<std::string, ComponentDecl> decls_;
  std::vector<std::string> names_;
  std::map<std::string, DatasetFactory> datasets_;
  std::map<std::string, EncoderFactory> encoders_;
  std::map<std::string, FusionFactory> fusions_;
  std::map<std::string, BiasEstimatorFactory> estimators_;
  std::map<std::string, InterventionFactory> interventions_;
  std::map<std::string, ScorerFactory> scorers_;
  std::map<std::string, SinkFactory> sinks_;
};


}  // namespace mmdebias::sdk::testing
