// Shared helpers for the infomin tests: the real plugin host, components built through it, and a context
// whose phase, epoch, RNG and (simulated) other ranks the test controls.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <doctest/doctest.h>

#include "manifest/option_values.hpp"
#include "mmdebias/core/plugin_host.hpp"
#include "plugin/registry.hpp"
#include "mmdebias/sdk/components.hpp"

namespace infomintest {

namespace sdk = mmdebias::sdk;

/// The registry of a host that loaded the built plugins through the real loader (once per process).
inline const mmdebias::core::Registry& registry() {
  static mmdebias::core::PluginHost host;
  static bool loaded = [] {
    mmdebias::core::SearchPath sp;
    sp.builtin = {MMDEBIAS_PLUGIN_DIR};
    host.load(sp);
    return true;
  }();
  (void)loaded;
  return host.registry();
}

/// Build arguments for a component of a model with fused width d and the given number of classes.
inline sdk::BuildArgs args(const std::string& type, const std::string& name, int64_t d, int64_t classes,
                           std::map<std::string, sdk::OptionValue> given = {}) {
  sdk::BuildArgs a;
  a.name = name;
  a.model.fused_dim = d;
  a.model.num_classes = classes;
  a.options = mmdebias::core::complete_options(registry().get(type).decl.schema, std::move(given));
  return a;
}

/// infomin.confounder built through the registry.
inline std::shared_ptr<sdk::BiasEstimator> make_confounder(int64_t d, int64_t classes, std::map<std::string, sdk::OptionValue> given = {}) {
  return registry().make_bias_estimator("infomin.confounder", args("infomin.confounder", "estimators.confounder", d, classes, std::move(given)));
}

/// An infomin intervention ("infomin.debias", "infomin.backdoor") built through the registry.
inline std::shared_ptr<sdk::Intervention> make_intervention(const std::string& type, int64_t d, int64_t classes,
                                                            std::map<std::string, sdk::OptionValue> given = {}) {
  return registry().make_intervention(type, args(type, "interventions.x", d, classes, std::move(given)));
}

/// A context the test steers: phase, epoch, a seeded RNG per stream, recorded metrics; with `others` it
/// plays one rank of a world of two whose other rank's contributions to all_reduce_sum are queued.
class TestContext : public sdk::Context {
 public:
  sdk::Phase phase_ = sdk::Phase::Train;
  int64_t epoch_ = 0;
  int world_ = 1;
  std::deque<at::Tensor> others;  ///< Added, in order, by each all_reduce_sum (world 2 only).
  std::map<std::string, double> metrics;

  void log(sdk::LogLevel, const std::string&) override {}
  at::Generator& rng(const std::string& stream) override {
    auto it = rngs_.find(stream);
    if (it == rngs_.end()) it = rngs_.emplace(stream, at::make_generator<at::CPUGeneratorImpl>(1234)).first;
    return it->second;
  }
  at::Generator& shared_rng(const std::string& name) override { return rng("shared/" + name); }
  void metric(const std::string& name, double value) override { metrics[name] = value; }
  c10::Device device() const override { return c10::Device(c10::kCPU); }
  sdk::Phase phase() const override { return phase_; }
  int64_t step() const override { return 0; }
  int64_t epoch() const override { return epoch_; }
  int rank() const override { return 0; }
  int world_size() const override { return world_; }
  void all_reduce_sum(at::Tensor& t) override {
    if (world_ == 1) return;
    if (others.empty()) throw std::logic_error("TestContext: no queued contribution of the other rank");
    t.add_(others.front().to(t.options()));
    others.pop_front();
  }
  at::Tensor all_gather(const at::Tensor& t) override { return t; }

 private:
  std::map<std::string, at::Generator> rngs_;
};

/// A Model lending only a fusion (what infomin.backdoor's predict uses).
class FusionOnlyModel : public sdk::Model {
 public:
  explicit FusionOnlyModel(std::shared_ptr<sdk::Fusion> fusion) : fusion_(std::move(fusion)) {}
  const std::vector<std::string>& modalities() const override { return modalities_; }
  sdk::Encoder& encoder(const std::string&) override { throw std::logic_error("no encoders"); }
  sdk::Fusion& fusion() override { return *fusion_; }
  sdk::ForwardRecord forward(const sdk::Batch&, const sdk::AttentionSites&) override { throw std::logic_error("no forward"); }

 private:
  std::vector<std::string> modalities_;
  std::shared_ptr<sdk::Fusion> fusion_;
};

/// std.concat over one pooled modality "m" of width d (its head is a Linear(d, classes)).
inline std::shared_ptr<sdk::Fusion> make_concat(int64_t d, int64_t classes) {
  sdk::BuildArgs a;
  a.name = "fusion";
  sdk::ModalitySpec m;
  m.name = "m";
  m.shape = {d};
  a.model.inputs = {m};
  a.model.features["m"] = sdk::FeatureSpec{d, false, 0};
  a.model.num_classes = classes;
  a.options = mmdebias::core::complete_options(registry().get("std.concat").decl.schema, {});
  return registry().make_fusion("std.concat", a);
}

/// The named buffer of a module (throws when absent).
inline at::Tensor buffer(torch::nn::Module& m, const std::string& name) {
  for (auto& b : m.named_buffers(true))
    if (b.key() == name) return b.value();
  throw std::out_of_range("no buffer " + name);
}

/// The named parameter of a module (throws when absent).
inline at::Tensor parameter(torch::nn::Module& m, const std::string& name) {
  for (auto& p : m.named_parameters(true))
    if (p.key() == name) return p.value();
  throw std::out_of_range("no parameter " + name);
}

/// Largest |a − b| / max(1, |b|).
inline double max_rel_diff(const at::Tensor& a, const at::Tensor& b) {
  return ((a.to(at::kDouble) - b.to(at::kDouble)).abs() / b.to(at::kDouble).abs().clamp_min(1)).max().item<double>();
}

}  // namespace infomintest
