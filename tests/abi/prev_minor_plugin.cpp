// The previous-minor test's plugin (docs/plugin-guide.md, section 10): compiled against the frozen SDK 1.0 headers
// (tests/abi/sdk-1.0/include shadows the current SDK) as abi10, and against the frozen 1.1, 1.2 and 1.3 headers as abi11,
// abi12, abi13 (ABI_PREVIOUS_MINOR=1, 2, 3; they also call 1.1's Context::metric(name, tensor)), loaded by the current host. Its components override every
// virtual of SDK 1.0's Encoder, Fusion, BiasEstimator, Intervention and Scorer, and call every Context method of 1.0,
// checking the answers: a "minor" change that was in fact a layout change (a virtual inserted before 1.0's, a moved
// field) makes a call land in the wrong slot and the run fail. Each hook logs the metric "<hook>" = 1, so
// tests/cli/abi_previous_minor.sh sees every hook reached in metrics.jsonl.
#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <torch/nn/modules/linear.h>

#include "mmdebias/sdk/sdk.hpp"

#ifndef ABI_PREVIOUS_MINOR
#define ABI_PREVIOUS_MINOR 0
#endif
#if MMDEBIAS_SDK_ABI_MAJOR != 1 || MMDEBIAS_SDK_ABI_MINOR != ABI_PREVIOUS_MINOR
#error "the previous-minor plugin must be compiled against the frozen SDK 1.<ABI_PREVIOUS_MINOR> headers"
#endif
#define ABI_STRING2(x) #x
#define ABI_STRING(x) ABI_STRING2(x)
/// "abi10", "abi11" or "abi12".
#define ABI_PLUGIN_NAME "abi1" ABI_STRING(ABI_PREVIOUS_MINOR)

namespace {

using namespace mmdebias::sdk;

constexpr int64_t kDim = 8;

void expect(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error(std::string(ABI_PLUGIN_NAME) + ": " + what);
}

// Every Context method of SDK 1.0, in declaration order, each answer checked against what a one-rank CPU run gives.
void use_context(Context& ctx, const std::string& hook) {
  ctx.log(LogLevel::Debug, hook);
  const at::Tensor a = at::rand({1}, ctx.rng("draws"), at::kDouble);
  expect(a.numel() == 1 && a.item<double>() >= 0.0 && a.item<double>() < 1.0, hook + ": rng");
  ctx.metric(hook, 1.0);
#if ABI_PREVIOUS_MINOR >= 1
  ctx.metric(hook + "_tensor", at::ones({}, at::kDouble));  // SDK 1.1: read back when the host flushes metrics
#endif
  expect(ctx.device().is_cpu(), hook + ": device " + ctx.device().str());
  const Phase p = ctx.phase();
  expect(p == Phase::Train || p == Phase::Eval || p == Phase::Fit, hook + ": phase");
  expect(ctx.step() >= 0 && ctx.step() < 1000000, hook + ": step " + std::to_string(ctx.step()));
  expect(ctx.epoch() >= 0 && ctx.epoch() < 1000, hook + ": epoch " + std::to_string(ctx.epoch()));
  expect(ctx.rank() == 0, hook + ": rank " + std::to_string(ctx.rank()));
  expect(ctx.world_size() == 1, hook + ": world_size " + std::to_string(ctx.world_size()));
  at::Tensor sum = at::full({2}, 1.5, at::kDouble);
  ctx.all_reduce_sum(sum);
  expect(sum.sum().item<double>() == 3.0, hook + ": all_reduce_sum");
  const at::Tensor gathered = ctx.all_gather(at::full({3}, 2.0, at::kDouble));
  expect(gathered.numel() == 3 && gathered.sum().item<double>() == 6.0, hook + ": all_gather");
  if (Model* model = ctx.model()) expect(!model->modalities().empty(), hook + ": model()->modalities()");
  const at::Tensor b = at::rand({1}, ctx.shared_rng("draws"), at::kDouble);
  expect(b.numel() == 1 && b.item<double>() >= 0.0 && b.item<double>() < 1.0, hook + ": shared_rng");
}

class Encoder10 : public Encoder {
 public:
  explicit Encoder10(int64_t in) : linear_(register_module("linear", torch::nn::Linear(in, kDim))) {}
  FeatureSpec output() const override { return {kDim, false, 0}; }
  std::vector<AttentionSiteInfo> attention_sites() const override { return {}; }
  at::Tensor encode(const at::Tensor& input, const AttentionSites&) override { return linear_->forward(input.flatten(1).to(at::kFloat)); }
  ComputeCost cost() const override { return {}; }

 private:
  torch::nn::Linear linear_;
};

class Fusion10 : public Fusion {
 public:
  Fusion10(std::vector<std::string> modalities, int64_t classes)
      : modalities_(std::move(modalities)),
        head_(register_module("head", torch::nn::Linear(kDim * static_cast<int64_t>(modalities_.size()), classes))) {
    for (const auto& m : modalities_) heads_.push_back(register_module("head_" + m, torch::nn::Linear(kDim, classes)));
  }
  int64_t fused_dim() const override { return kDim * static_cast<int64_t>(modalities_.size()); }
  std::vector<AttentionSiteInfo> attention_sites() const override { return {}; }
  at::Tensor fuse(const Features& features, const AttentionSites&) override {
    std::vector<at::Tensor> parts;
    for (const auto& m : modalities_) parts.push_back(features.at(m));
    return at::cat(parts, 1);
  }
  at::Tensor head(const at::Tensor& fused) override { return head_->forward(fused); }
  bool has_modality_heads() const override { return true; }
  at::Tensor modality_head(const std::string& modality, const at::Tensor& features) override {
    for (size_t i = 0; i < modalities_.size(); ++i)
      if (modalities_[i] == modality) return heads_[i]->forward(features);
    throw std::invalid_argument(std::string(ABI_PLUGIN_NAME) + ".fusion: no modality " + modality);
  }
  ComputeCost cost() const override { return {}; }

 private:
  std::vector<std::string> modalities_;
  torch::nn::Linear head_;
  std::vector<torch::nn::Linear> heads_;
};

class Estimator10 : public BiasEstimator {
 public:
  void observe_fused(const ForwardRecord& record, Estimates& estimates, Context& ctx) override {
    use_context(ctx, "observe_fused");
    estimates.set("abi10_fused_norm", record.fused_input.detach().norm());
  }
  void observe(const ForwardRecord& record, Estimates& estimates, Context& ctx) override {
    use_context(ctx, "observe");
    expect(estimates.has("abi10_fused_norm"), "observe: observe_fused's estimate");
    estimates.set("abi10_modalities", at::scalar_tensor(static_cast<double>(record.modality_logits.size()), at::kDouble));
  }
  void loss(const ForwardRecord& record, const Batch&, const Estimates&, LossTerms& terms, Context& ctx) override {
    use_context(ctx, "estimator_loss");
    terms.add("abi10_estimator", record.logits.pow(2).mean(), 1e-3);
  }
  void on_step_end(Context& ctx) override { use_context(ctx, "estimator_on_step_end"); }
  ComputeCost cost() const override { return {}; }
};

class Intervention10 : public Intervention {
 public:
  uint32_t hooks() const override {
    return kOnBatch | kOnFeatures | kAtAttention | kOnFused | kLoss | kAfterBackward | kOnStepEnd | kPredict;
  }
  uint32_t exclusive_hooks() const override { return 0; }
  std::vector<std::string> claimed_sites() const override { return {}; }
  void on_batch(Batch& batch, Context& ctx) override {
    use_context(ctx, "on_batch");
    expect(batch.size() > 0, "on_batch: empty batch");
  }
  at::Tensor on_features(const std::string& modality, const at::Tensor& features, Context& ctx) override {
    use_context(ctx, "on_features");
    expect(!modality.empty(), "on_features: modality");
    return features;
  }
  void at_attention(AttentionSites&, Context& ctx) override { use_context(ctx, "at_attention"); }
  at::Tensor on_fused(const at::Tensor& fused, const Estimates&, Context& ctx) override {
    use_context(ctx, "on_fused");
    return fused;
  }
  void loss(const ForwardRecord& record, const Batch&, const Estimates& estimates, Model& model, LossTerms& terms,
            Context& ctx) override {
    use_context(ctx, "intervention_loss");
    expect(estimates.has("abi10_modalities"), "loss: the estimator's estimate");
    expect(model.modalities().size() == record.features.size(), "loss: Model::modalities");
    terms.add("abi10_intervention", record.fused.pow(2).mean(), 1e-3);
  }
  void after_backward(const StepRecords& step, Model&, Context& ctx) override {
    use_context(ctx, "after_backward");
    expect(!step.micro_batches.empty(), "after_backward: no micro-batches");
  }
  void on_step_end(Context& ctx) override { use_context(ctx, "intervention_on_step_end"); }
  at::Tensor predict(const ForwardRecord&, const at::Tensor& logits, const Batch&, const Estimates&, Model& model,
                     Context& ctx) override {
    use_context(ctx, "predict");
    expect(model.fusion().fused_dim() > 0, "predict: Model::fusion");
    return logits;
  }
  ComputeCost cost() const override { return {}; }
};

class Scorer10 : public Scorer {
 public:
  Scorer10() { fitted_ = register_buffer("fitted", at::zeros({1}, at::kDouble)); }
  bool needs_fit() const override { return true; }
  void fit(const ForwardRecord&, const Batch&, Context& ctx) override { use_context(ctx, "fit"); }
  void finish_fit(Context& ctx) override {
    use_context(ctx, "finish_fit");
    fitted_.fill_(1.0);
  }
  at::Tensor score(const ForwardRecord&, const at::Tensor& logits, Context& ctx) override {
    use_context(ctx, "score");
    expect(fitted_.item<double>() == 1.0, "score: not fitted");
    return std::get<0>(logits.max(1));
  }
  ComputeCost cost() const override { return {}; }

 private:
  at::Tensor fitted_;
};

void register_components(Registrar& r) {
  r.add_encoder({"encoder", "a linear encoder (SDK 1.0 layout)", Schema{}, {}, {}}, [](const BuildArgs& a) {
    for (const auto& m : a.model.inputs)
      if (m.name == a.modality) {
        int64_t in = 1;
        for (int64_t d : m.shape) in *= d;
        return std::make_shared<Encoder10>(in);
      }
    throw std::invalid_argument(std::string(ABI_PLUGIN_NAME) + ".encoder: no modality " + a.modality);
  });
  r.add_fusion({"fusion", "concatenation with per-modality heads (SDK 1.0 layout)", Schema{}, {}, {capability::kModalityLogits}},
               [](const BuildArgs& a) {
                 std::vector<std::string> modalities;
                 for (const auto& m : a.model.inputs) modalities.push_back(m.name);
                 return std::make_shared<Fusion10>(modalities, a.model.num_classes);
               });
  r.add_bias_estimator({"estimator", "every estimator hook (SDK 1.0 layout)", Schema{}, {capability::kModalityLogits}, {}},
                       [](const BuildArgs&) { return std::make_shared<Estimator10>(); });
  r.add_intervention({"intervention", "every intervention hook (SDK 1.0 layout)", Schema{}, {}, {}},
                     [](const BuildArgs&) { return std::make_shared<Intervention10>(); });
  r.add_scorer({"scorer", "a fitted max-logit scorer (SDK 1.0 layout)", Schema{}, {}, {}},
               [](const BuildArgs&) { return std::make_shared<Scorer10>(); });
}

}  // namespace

MMDEBIAS_PLUGIN(ABI_PLUGIN_NAME, "1." ABI_STRING(ABI_PREVIOUS_MINOR) ".0",
                "built against the frozen SDK 1." ABI_STRING(ABI_PREVIOUS_MINOR) " headers (the previous-minor test)", register_components)
