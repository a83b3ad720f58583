// Shared helpers for the causalmm tests: a context with real RNG streams and recorded metrics, fixed attention
// maps with masks, and a tiny two-site model (an encoder site and a fusion site) that records every pass.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

#include "plugins/std_helpers.hpp"

namespace cmmtest {

namespace sdk = mmdebias::sdk;
using namespace stdtest;

/// A host context for one component: named RNG streams seeded from (seed, name), metrics kept in order.
class RecordingContext : public sdk::Context {
 public:
  /// Streams are seeded from seed and their name.
  explicit RecordingContext(uint64_t seed = 7, sdk::Phase phase = sdk::Phase::Eval) : seed_(seed), phase_(phase) {}
  void log(sdk::LogLevel, const std::string&) override {}
  at::Generator& rng(const std::string& name) override {
    auto it = streams_.find(name);
    if (it != streams_.end()) return it->second;
    return streams_.emplace(name, at::make_generator<at::CPUGeneratorImpl>(stream_seed(name))).first->second;
  }
  at::Generator& shared_rng(const std::string& name) override { return rng("shared/" + name); }
  void metric(const std::string& name, double value) override { metrics[name].push_back(value); }
  c10::Device device() const override { return c10::Device(c10::kCPU); }
  sdk::Phase phase() const override { return phase_; }
  int64_t step() const override { return 0; }
  int64_t epoch() const override { return 0; }
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  void all_reduce_sum(at::Tensor&) override {}
  at::Tensor all_gather(const at::Tensor& t) override { return t; }
  /// The seed of the stream called name (a test replays its draws from it).
  uint64_t stream_seed(const std::string& name) const { return seed_ * 1000003ull + std::hash<std::string>{}(name) % 100000; }

  std::map<std::string, std::vector<double>> metrics;  ///< Every metric value, by name, in call order.

 private:
  uint64_t seed_;
  sdk::Phase phase_;
  std::map<std::string, at::Generator> streams_;
};

/// Row-stochastic attention [B, H, Q, K] (a softmax of random scores) that is 0 where mask is false;
/// rows with no allowed key are all 0.
inline at::Tensor stochastic_weights(at::IntArrayRef sizes, const at::Tensor& mask, uint64_t seed) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  at::Tensor scores = at::randn(sizes, gen, at::TensorOptions().dtype(at::kDouble)) * 2.0;
  at::Tensor m = mask.defined() ? mask.expand(sizes) : at::ones(sizes, at::kBool);
  at::Tensor w = at::softmax(scores.masked_fill(m.logical_not(), -1e300), -1) * m.to(at::kDouble);
  return at::where(m.any(-1, true), w, at::zeros_like(w));
}

/// The masks the tests run every edit with, by name: none (undefined), padding [B,1,1,K] (batch row 1 has its
/// last two keys padded), causal [1,1,Q,K], and padding+causal with one row that allows no key at all.
inline std::map<std::string, at::Tensor> test_masks(int64_t B, int64_t Q, int64_t K) {
  at::Tensor padding = at::ones({B, 1, 1, K}, at::kBool);
  padding.index_put_({1, 0, 0, at::indexing::Slice(K - 2, at::indexing::None)}, false);
  at::Tensor causal = at::ones({Q, K}, at::kBool).tril(K - Q).view({1, 1, Q, K});
  at::Tensor both = padding.logical_and(causal).expand({B, 1, Q, K}).clone();
  both.index_put_({0, 0, 0}, false);  // batch row 0, query 0: nothing allowed
  return {{"none", at::Tensor()}, {"padding", padding}, {"causal", causal}, {"padding+causal", both}};
}

/// A self-attention encoder over dense tokens [B, T, D] with one site, <prefix>.layer0; keys whose
/// features are all zero are padding.
class SiteEncoder : public sdk::Encoder {
 public:
  SiteEncoder(int64_t dim, int64_t length, std::string site) : dim_(dim), length_(length), site_(std::move(site)) {
    value_ = register_module("value", torch::nn::Linear(dim, dim));
  }
  sdk::FeatureSpec output() const override { return {dim_, true, length_}; }
  std::vector<sdk::AttentionSiteInfo> attention_sites() const override { return {{site_, 2, false}}; }
  at::Tensor encode(const at::Tensor& x, const sdk::AttentionSites& sites) override {
    const int64_t B = x.size(0), T = x.size(1);
    at::Tensor valid = x.abs().sum(-1).gt(0).view({B, 1, 1, T});
    at::Tensor scores = at::matmul(x, x.transpose(1, 2)).unsqueeze(1).expand({B, 2, T, T}) / std::sqrt(double(dim_));
    scores = scores * at::tensor({1.0, -1.0}, x.options()).view({1, 2, 1, 1});  // two heads that differ
    at::Tensor w = at::softmax(scores.masked_fill(valid.logical_not(), -1e9), -1) * valid.to(x.scalar_type());
    w = sites.apply(site_, w, valid);
    at::Tensor v = value_->forward(x).view({B, T, 2, dim_ / 2}).transpose(1, 2);  // [B, 2, T, D/2]
    return x + at::matmul(w, v).transpose(1, 2).reshape({B, T, dim_});
  }

 private:
  int64_t dim_, length_;
  std::string site_;
  torch::nn::Linear value_{nullptr};
};

/// Attention pooling of one modality's tokens with a learned query (site "fusion.layer0", Q = 1), then a
/// linear head. With enabled = false the site is declared but its weights never pass through the sites.
class SiteFusion : public sdk::Fusion {
 public:
  SiteFusion(std::string modality, int64_t dim, int64_t classes, bool enabled) : modality_(std::move(modality)), enabled_(enabled) {
    query_ = register_parameter("query", at::randn({dim}));
    head_ = register_module("head", torch::nn::Linear(dim, classes));
  }
  int64_t fused_dim() const override { return query_.size(0); }
  std::vector<sdk::AttentionSiteInfo> attention_sites() const override { return {{"fusion.layer0", 1, false}}; }
  at::Tensor fuse(const sdk::Features& features, const sdk::AttentionSites& sites) override {
    const at::Tensor& h = features.at(modality_);  // [B, T, D]
    at::Tensor w = at::softmax(at::matmul(h, query_), -1).view({h.size(0), 1, 1, h.size(1)});
    if (enabled_) w = sites.apply("fusion.layer0", w, {});
    return at::matmul(w.squeeze(1), h).squeeze(1);
  }
  at::Tensor head(const at::Tensor& fused) override { return head_->forward(fused); }

 private:
  std::string modality_;
  bool enabled_;
  at::Tensor query_;
  torch::nn::Linear head_{nullptr};
};

/// One forward pass as the test model saw it.
struct Pass {
  std::vector<std::string> overridden;  ///< Sites that had an override.
  sdk::ForwardRecord record;            ///< Its record, attention included.
};

/// sdk::Model over one modality "a" with a SiteEncoder and a SiteFusion; records every pass.
class TinyModel : public sdk::Model {
 public:
  /// fusion_site_enabled = false declares the fusion site but bypasses it.
  explicit TinyModel(bool fusion_site_enabled = true, int64_t dim = 4, int64_t length = 5, int64_t classes = 3)
      : encoder_(std::make_shared<SiteEncoder>(dim, length, "encoders.a.layer0")),
        fusion_(std::make_shared<SiteFusion>("a", dim, classes, fusion_site_enabled)) {}
  const std::vector<std::string>& modalities() const override { return modalities_; }
  sdk::Encoder& encoder(const std::string&) override { return *encoder_; }
  sdk::Fusion& fusion() override { return *fusion_; }
  sdk::ForwardRecord forward(const sdk::Batch& batch, const sdk::AttentionSites& sites) override {
    sdk::AttentionSites recorded = sites;
    recorded.set_recording(true);
    Pass pass;
    for (const auto& s : all_sites())
      if (sites.has_override(s.name)) pass.overridden.push_back(s.name);
    pass.record.features["a"] = encoder_->encode(batch.inputs.at("a"), recorded);
    pass.record.fused_input = pass.record.fused = fusion_->fuse(pass.record.features, recorded);
    pass.record.logits = fusion_->head(pass.record.fused);
    pass.record.attention = recorded.recorded();
    passes.push_back(pass);
    return pass.record;
  }
  /// Every site of the model, as ModelSpec::attention_sites lists them.
  std::vector<sdk::AttentionSiteInfo> all_sites() const {
    auto s = encoder_->attention_sites();
    for (const auto& f : fusion_->attention_sites()) s.push_back(f);
    return s;
  }
  /// A batch of B samples of T tokens (the last token of odd samples is padding) with labels.
  sdk::Batch batch(int64_t B, uint64_t seed = 3) const {
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    sdk::Batch b;
    at::Tensor x = at::randn({B, 5, 4}, gen, at::TensorOptions().dtype(at::kFloat));
    for (int64_t i = 1; i < B; i += 2) x[i][4].zero_();
    b.inputs["a"] = x;
    b.label = at::arange(B, at::kLong) % 3;
    return b;
  }

  std::vector<Pass> passes;  ///< Every forward, in order.

 private:
  std::vector<std::string> modalities_{"a"};
  std::shared_ptr<SiteEncoder> encoder_;
  std::shared_ptr<SiteFusion> fusion_;
};

/// causalmm.counterfactual_attention built through the real loader for a model with the given sites.
inline std::shared_ptr<sdk::Intervention> make_intervention(const std::vector<sdk::AttentionSiteInfo>& sites,
                                                            std::map<std::string, sdk::OptionValue> given = {}) {
  const std::string type = "causalmm.counterfactual_attention";
  sdk::BuildArgs a;
  a.name = "interventions.causalmm";
  a.model.num_classes = 3;
  a.model.attention_sites = sites;
  a.options = options(type, std::move(given));
  return registry().make_intervention(type, a);
}

}  // namespace cmmtest
