// Shared helpers for the mcr plugin's tests: a tiny two-modality model on fixed tensors, a context with
// RNG streams, and the plugin's own headers (the functions the intervention calls are the test seam).
#pragma once

#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "plugins/std_helpers.hpp"

#include "../../../plugins/mcr/ceb.hpp"
#include "../../../plugins/mcr/contrastive.hpp"
#include "../../../plugins/mcr/divergence.hpp"
#include "../../../plugins/mcr/game.hpp"
#include "../../../plugins/mcr/permutations.hpp"

namespace mcrtest {

namespace sdk = mmdebias::sdk;
namespace mcr = mmdebias::mcr;

/// Fixed numbers in [-1, 1] from a seed, as a double tensor of the given shape.
inline at::Tensor fixed(std::vector<int64_t> shape, unsigned seed, double scale = 1.0) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  at::Tensor t = at::empty(shape, at::kDouble);
  auto flat = t.view({-1});
  for (int64_t i = 0; i < flat.size(0); ++i) flat[i] = u(rng) * scale;
  return t;
}

/// Two modalities a (inputs [B, 4]) and v (inputs [B, 5]), "encoders" z = tanh(x W) with D = 3, and the
/// std.concat fusion of the real plugin (C = 3) in float64 with fixed weights.
struct TinyModel {
  static constexpr int64_t kBatch = 6, kDim = 3, kClasses = 3;
  at::Tensor xa = fixed({kBatch, 4}, 1), xv = fixed({kBatch, 5}, 2);
  at::Tensor wa = fixed({4, kDim}, 3, 1.5).requires_grad_(true);
  at::Tensor wv = fixed({5, kDim}, 4, 1.5).requires_grad_(true);
  at::Tensor labels = at::tensor({0, 1, 0, 2, 1, 0}, at::kLong);
  std::shared_ptr<sdk::Fusion> fusion;

  TinyModel() {
    fusion = stdtest::make_fusion("std.concat", {{"a", stdtest::pooled(kDim)}, {"v", stdtest::pooled(kDim)}}, kClasses);
    fusion->to(at::kDouble);
    at::NoGradGuard no_grad;
    auto params = fusion->named_parameters();
    params["head.weight"].copy_(fixed({kClasses, 2 * kDim}, 5, 2.0));
    params["head.bias"].copy_(fixed({kClasses}, 6, 0.5));
  }
  /// The features of both modalities, graph attached to wa and wv.
  sdk::Features features() const { return {{"a", at::tanh(at::matmul(xa, wa))}, {"v", at::tanh(at::matmul(xv, wv))}}; }
  /// The base logits of features.
  at::Tensor base(const sdk::Features& f) const { return fusion->head(fusion->fuse(f, sdk::AttentionSites())); }
  /// The head's weight and bias.
  at::Tensor head_weight() const { return fusion->named_parameters()["head.weight"]; }
  at::Tensor head_bias() const { return fusion->named_parameters()["head.bias"]; }
  /// Clears the gradients of the encoders and the head.
  void zero_grad() {
    for (at::Tensor t : {wa, wv, head_weight(), head_bias()})
      if (t.grad().defined()) t.mutable_grad().zero_();
  }
};

/// Three fixed permutations of 6: one has a fixed point (2 -> 2), one is a reversal, one a rotation.
inline at::Tensor fixed_permutations() {
  return at::tensor({1, 0, 2, 5, 3, 4, 5, 4, 3, 2, 1, 0, 2, 3, 4, 5, 0, 1}, at::kLong).view({3, 6});
}

/// The gradient of t, or zeros where none flowed.
inline at::Tensor grad_or_zero(const at::Tensor& t) { return t.grad().defined() ? t.grad().clone() : at::zeros_like(t); }

/// A host context with real, seeded RNG streams and a world of one.
class SeededContext : public sdk::Context {
 public:
  explicit SeededContext(uint64_t seed, sdk::Phase phase = sdk::Phase::Train) : seed_(seed), phase_(phase) {}
  void log(sdk::LogLevel, const std::string&) override {}
  at::Generator& rng(const std::string& name) override {
    auto it = streams_.find(name);
    if (it == streams_.end()) it = streams_.emplace(name, at::make_generator<at::CPUGeneratorImpl>(seed_)).first;
    return it->second;
  }
  at::Generator& shared_rng(const std::string& name) override { return rng("shared/" + name); }
  void metric(const std::string& name, double value) override { metrics[name] = value; }
  c10::Device device() const override { return c10::Device(c10::kCPU); }
  sdk::Phase phase() const override { return phase_; }
  int64_t step() const override { return 0; }
  int64_t epoch() const override { return 0; }
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  void all_reduce_sum(at::Tensor&) override {}
  at::Tensor all_gather(const at::Tensor& t) override { return t; }
  std::map<std::string, double> metrics;  ///< what metric() recorded

 private:
  uint64_t seed_;
  sdk::Phase phase_;
  std::map<std::string, at::Generator> streams_;
};

}  // namespace mcrtest
