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
  std::map<std::string, double> metrics;                      ///< Last value of each metric().
  std::vector<std::pair<LogLevel, std::string>> logs;         ///< Every log() line.
  int reductions = 0;                                         ///< Number of all_reduce_sum / all_gather calls.

  /// A context in phase.
  explicit FakeContext(Phase phase = Phase::Train) : phase_value(phase) {}
  void log(LogLevel level, const std::string& message) override { logs.emplace_back(level, message); }
  at::Generator& rng(const std::string& stream) override { return stream_of("rank/" + stream); }
  at::Generator& shared_rng(const std::string& stream) override { return stream_of("shared/" + stream); }
  void metric(const std::string& name, double value) override { metrics[name] = value; }
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
};


/// Moves every parameter and buffer of module (and of its submodules) to device in place, as the host's
/// Module::to(device) moves a model, but also to the meta device, which Module::to refuses (set_data rejects a
/// change of backend). Every handle to them follows, members included; plain member tensors stay where they are,
/// as they do when the host moves a model. For tests only.
inline void move_in_place(torch::nn::Module& module, c10::Device device) {
  auto move = [&](at::Tensor& t) {
    if (!t.defined() || t.device() == device) return;
    at::Tensor moved = t.device().is_meta() || device.is_meta()
                           ? at::empty_strided(t.sizes(), t.strides(), t.options().device(device))
                           : t.detach().to(device);
    t.unsafeGetTensorImpl()->shallow_copy_from(moved.getIntrusivePtr());
  };
  for (auto& p : module.parameters()) move(p);
  for (auto& b : module.buffers()) move(b);
}

/// Runs a component's hooks on inputs on one device and records, per hook, whether it stayed there: every tensor
/// the hook returns, and every parameter and buffer of the module it is given afterwards, must be on that device,
/// and no op may meet tensors of two devices. On a CPU-only machine the device is meta: a tensor made with default
/// options (at::zeros({n})) lands on the CPU and is caught, and a value read back to the host (.item(), a copy to
/// the CPU, an op whose output shape depends on values) throws there, so the hook is reported as reading the host
/// unless allow_host_read() declared it with a reason. An op LibTorch has no meta kernel for stops the hook
/// without failing it: the report lists it as not checked past that op.
class DeviceCheck {
 public:
  /// What one hook did.
  enum class Outcome { Ok, HostRead, NoKernel, Failed };
  /// One hook's result.
  struct Entry {
    std::string component, hook;  ///< "arl.reweight", "loss".
    Outcome outcome = Outcome::Ok;
    std::string detail;           ///< Why it failed, the declared reason of a host read, or the op lacking a kernel.
  };

  /// A check of hooks run with their inputs on device (at::kMeta on a CPU-only machine).
  explicit DeviceCheck(c10::Device device = c10::Device(c10::kMeta)) : device_(device) {}
  /// The device every tensor must stay on.
  c10::Device device() const { return device_; }

  /// Declares that component's hook reads values back to the host by design, with a one-line reason ("*" as hook:
  /// every hook of it). Such a hook stops at the read and is listed, not failed; an undeclared read fails.
  void allow_host_read(const std::string& component, const std::string& hook, const std::string& reason) {
    allowed_[component + "\n" + hook] = reason;
  }

  /// Runs fn (one hook of component) and checks what it returns and, when given, module's parameters and buffers
  /// afterwards. Returns true when the hook ran to its end on the device (the caller may go on to the next hook).
  bool run(const std::string& component, const std::string& hook, const std::function<std::vector<at::Tensor>()>& fn,
           const torch::nn::Module* module = nullptr) {
    Entry e{component, hook, Outcome::Ok, ""};
    try {
      const std::vector<at::Tensor> out = fn();
      for (size_t i = 0; i < out.size() && e.outcome == Outcome::Ok; ++i)
        if (out[i].defined() && out[i].device() != device_)
          fail(e, "returned tensor " + std::to_string(i) + " on " + out[i].device().str());
      if (module && e.outcome == Outcome::Ok) {
        for (const auto& item : module->named_parameters())
          if (item.value().defined() && item.value().device() != device_)
            fail(e, "left parameter " + item.key() + " on " + item.value().device().str());
        for (const auto& item : module->named_buffers())
          if (item.value().defined() && item.value().device() != device_)
            fail(e, "left buffer " + item.key() + " on " + item.value().device().str());
      }
    } catch (const std::exception& ex) {
      classify(e, message_of(ex));
    }
    entries_.push_back(e);
    return e.outcome == Outcome::Ok;
  }

  /// Every hook run, in order.
  const std::vector<Entry>& entries() const { return entries_; }
  /// "component hook: why" for every failed hook.
  std::vector<std::string> failures() const {
    std::vector<std::string> out;
    for (const auto& e : entries_)
      if (e.outcome == Outcome::Failed) out.push_back(e.component + " " + e.hook + ": " + e.detail);
    return out;
  }
  /// A table a reviewer reads: hooks checked, host reads declared (with reasons), hooks stopped by a missing meta
  /// kernel, failures.
  std::string report() const {
    std::ostringstream s;
    const char* titles[] = {"checked on ", "reads the host by design (declared)", "not checked past an op without a meta kernel in this LibTorch", "FAILED"};
    for (Outcome o : {Outcome::Ok, Outcome::HostRead, Outcome::NoKernel, Outcome::Failed}) {
      std::ostringstream part;
      int n = 0;
      for (const auto& e : entries_)
        if (e.outcome == o) {
          part << "  " << e.component << " " << e.hook << (e.detail.empty() ? "" : ": " + e.detail) << "\n";
          ++n;
        }
      if (n == 0) continue;
      s << titles[static_cast<int>(o)] << (o == Outcome::Ok ? device_.str() : "") << " (" << n << "):\n" << part.str();
    }
    return s.str();
  }

 private:
  static std::string message_of(const std::exception& ex) {
    if (const auto* c10e = dynamic_cast<const c10::Error*>(&ex)) return c10e->what_without_backtrace();
    return ex.what();
  }
  static bool contains(const std::string& s, const char* what) { return s.find(what) != std::string::npos; }
  /// The "aten::name" an error names, or "".
  static std::string op_of(const std::string& message) {
    const size_t at = message.find("aten::");
    if (at == std::string::npos) return "";
    size_t end = at + 6;
    while (end < message.size() && (std::isalnum(static_cast<unsigned char>(message[end])) || message[end] == '_' || message[end] == '.')) ++end;
    return message.substr(at, end - at);
  }
  void fail(Entry& e, const std::string& why) {
    e.outcome = Outcome::Failed;
    e.detail = why;
  }
  void classify(Entry& e, const std::string& message) {
    const std::string first = message.substr(0, message.find('\n'));
    const std::string op = op_of(message);
    // Ops that read values (or whose output shape depends on them): a synchronisation with the host on a GPU.
    static const char* const host_ops[] = {"aten::_local_scalar_dense", "aten::nonzero", "aten::masked_select",
                                           "aten::_unique", "aten::_unique2", "aten::unique_dim", "aten::unique_consecutive",
                                           "aten::equal", "aten::is_nonzero", "aten::_assert_async"};
    bool host = contains(message, "Cannot copy out of meta tensor") || contains(message, "copy out of meta");
    for (const char* h : host_ops)
      if (op == h) host = true;
    if (device_.is_meta() && host) {
      auto it = allowed_.find(e.component + "\n" + e.hook);
      if (it == allowed_.end()) it = allowed_.find(e.component + "\n*");
      if (it != allowed_.end()) {
        e.outcome = Outcome::HostRead;
        e.detail = it->second + " [" + (op.empty() ? "copy to the host" : op) + "]";
      } else {
        fail(e, "reads a value back to the host (" + (op.empty() ? first : op) +
                    "): keep it on the device, or declare it with allow_host_read and a reason");
      }
      return;
    }
    const bool no_kernel = device_.is_meta() && !op.empty() &&
                           (contains(message, "Meta kernel") || contains(message, "'Meta' backend") ||
                            contains(message, "meta kernel") || contains(message, "Meta tensors"));
    if (no_kernel) {
      e.outcome = Outcome::NoKernel;
      e.detail = op;
      return;
    }
    fail(e, first);  // two devices met ("Expected all tensors to be on the same device"), or any other error
  }

  c10::Device device_;
  std::map<std::string, std::string> allowed_;
  std::vector<Entry> entries_;
};

}  // namespace mmdebias::sdk::testing
