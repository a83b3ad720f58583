// infomin.confounder (TE-D's bias estimator): a confounder representation learned from stop-gradient fused
// features, kept simple by minimising its coding rate, and a bias-only head on it.
#include <algorithm>
#include <stdexcept>
#include <string>

#include <ATen/ATen.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "mmdebias/sdk/bind.hpp"
#include "mmdebias/sdk/components.hpp"
#include "mmdebias/sdk/precision.hpp"
#include "mmdebias/sdk/registrar.hpp"
#include "objectives.hpp"
#include "register.hpp"

namespace mmdebias::infomin {
namespace {

/// The options of infomin.confounder.
struct Config {
  int64_t bias_dim_factor = 0;
  double eps_sq = 0, kappa_coeff = 0;
  bool dynamic_kappa = false;
  double bias_ce_weight = 0, contrastive_weight = 0, temperature = 0;
  int64_t bias_epochs = 0;

  static void declare(sdk::OptionBinder<Config>& b) {
    b.option("bias_dim_factor", &Config::bias_dim_factor, 4, "Bias representation width = fused_dim / this (at least 1)")
        .range(1, 1 << 20);
    b.option("eps_sq", &Config::eps_sq, 0.01, "ε² of the coding rate R(Z) = ½ logdet(I + d/(m ε²) ZᵀZ)").range(1e-8, 1e8);
    b.option("kappa_coeff", &Config::kappa_coeff, 0.25,
             "κ = min(1, |kappa_coeff · CE_b / R_b|) (or κ = kappa_coeff when dynamic_kappa is false)")
        .range(0.0, 1e6);
    b.option("dynamic_kappa", &Config::dynamic_kappa, true,
             "Recompute κ every step from the bias CE and rate (the release's --dynamic-coeff)");
    b.option("bias_ce_weight", &Config::bias_ce_weight, 1.0, "Weight of the bias head's cross-entropy CE(b_logit)")
        .range(0.0, 1e6);
    b.option("contrastive_weight", &Config::contrastive_weight, 1.0,
             "Weight of the contrastive term (anchor x, positive x̃, negative r); 0 = off")
        .range(0.0, 1e6);
    b.option("temperature", &Config::temperature, 1.0, "Temperature τ of the contrastive term").range(1e-6, 1e6);
    b.option("bias_epochs", &Config::bias_epochs, 0,
             "Train the rate and bias-CE terms only in epochs < this; 0 = every epoch")
        .at_least(0);
  }
};

/// norm(x) in fp32 whatever the precision (the next layer computes in the run's precision again): under bf16 autocast
/// LibTorch 1.13's CPU layer_norm refuses a bf16 input with fp32 weights, and a bf16 normalisation keeps 8 bits.
at::Tensor normalize_fp32(torch::nn::LayerNorm& norm, const at::Tensor& x) {
  sdk::FullPrecision full;
  return norm->forward(sdk::fp32(x));
}

/// b = LN(GELU(W2 GELU(W1 sg(x)))), r = remap(b), b_logit = conf_head(r) with
/// conf_head = Linear(d, 2d) → GELU → LN → Linear(2d, C), as in the reference release.
/// Loss: κ·R(r) + CE(b_logit) + contrastive(x, x̃, r), κ = min(1, |coeff·CE_b / R_b|) detached.
class ConfounderEstimator : public sdk::BiasEstimator {
 public:
  ConfounderEstimator(const Config& c, const sdk::BuildArgs& args)
      : eps_sq_(c.eps_sq),
        kappa_coeff_(c.kappa_coeff),
        dynamic_kappa_(c.dynamic_kappa),
        bias_ce_weight_(c.bias_ce_weight),
        contrastive_weight_(c.contrastive_weight),
        temperature_(c.temperature),
        bias_epochs_(c.bias_epochs) {
    const int64_t d = args.model.fused_dim, classes = args.model.num_classes;
    if (d < 1) throw std::invalid_argument("infomin.confounder needs the fusion's width (fused_dim), got " + std::to_string(d));
    if (classes < 1) throw std::invalid_argument("infomin.confounder needs the number of classes, got " + std::to_string(classes));
    const int64_t k = std::max<int64_t>(1, d / c.bias_dim_factor);
    fc1_ = register_module("bias_fc1", torch::nn::Linear(d, d));
    fc2_ = register_module("bias_fc2", torch::nn::Linear(d, k));
    norm_ = register_module("bias_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({k}).eps(1e-12)));
    remap_ = register_module("remap", torch::nn::Linear(k, d));
    head_fc1_ = register_module("conf_head_fc1", torch::nn::Linear(d, 2 * d));
    head_norm_ = register_module("conf_head_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({2 * d}).eps(1e-12)));
    head_fc2_ = register_module("conf_head_fc2", torch::nn::Linear(2 * d, classes));
  }

  void observe_fused(const sdk::ForwardRecord& record, sdk::Estimates& estimates, sdk::Context&) override {
    const at::Tensor& x = record.fused_input;
    if (x.dim() != 2 || x.size(1) != remap_->options.out_features())
      throw std::invalid_argument("infomin.confounder expects fused features [B, " + std::to_string(remap_->options.out_features()) +
                                  "], got " + std::to_string(x.dim()) + " dimensions");
    // sg(x): the confounder learns from the features but does not shape them.
    at::Tensor b = normalize_fp32(norm_, at::gelu(fc2_->forward(at::gelu(fc1_->forward(sdk::stop_gradient(x))))));
    at::Tensor r = remap_->forward(b);
    at::Tensor bias_logits = head_fc2_->forward(normalize_fp32(head_norm_, at::gelu(head_fc1_->forward(r))));
    estimates.set(kConfounderEstimate, r);
    estimates.set(kBiasLogitsEstimate, bias_logits);
  }

  void loss(const sdk::ForwardRecord& record, const sdk::Batch& batch, const sdk::Estimates& estimates, sdk::LossTerms& terms,
            sdk::Context& ctx) override {
    const at::Tensor& r = estimates.get(kConfounderEstimate);
    const at::Tensor& bias_logits = estimates.get(kBiasLogitsEstimate);
    if (bias_epochs_ == 0 || ctx.epoch() < bias_epochs_) {
      at::Tensor rate = distributed_coding_rate(r, eps_sq_, ctx);
      at::Tensor bias_ce = mean_cross_entropy(bias_logits, batch.label);
      double kappa = kappa_coeff_;
      if (dynamic_kappa_) kappa = dynamic_kappa(kappa_coeff_, global_mean(bias_ce, r.size(0), ctx), rate.item<double>());
      terms.add("rate", rate, kappa);
      terms.add("bias_ce", bias_ce, bias_ce_weight_);
      ctx.metric("kappa", kappa);
    }
    // Anchor x (the fused features), positive x̃ (what the head saw), negative r (the confounder).
    if (contrastive_weight_ > 0)
      terms.add("contrastive", contrastive_loss(record.fused_input, record.fused, r, temperature_), contrastive_weight_);
  }

 private:
  /// The mean of a per-rank mean over every rank's rows (κ is a decision made from the whole batch).
  static double global_mean(const at::Tensor& local_mean, int64_t rows, sdk::Context& ctx) {
    if (ctx.world_size() <= 1) return local_mean.item<double>();
    at::Tensor t = at::tensor({local_mean.item<double>() * static_cast<double>(rows), static_cast<double>(rows)}, at::kDouble)
                       .to(local_mean.device());  // a collective's tensor lives on the device (NCCL takes no CPU tensor)
    ctx.all_reduce_sum(t);
    return t[1].item<double>() > 0 ? t[0].item<double>() / t[1].item<double>() : 0.0;
  }

  double eps_sq_, kappa_coeff_;
  bool dynamic_kappa_;
  double bias_ce_weight_, contrastive_weight_, temperature_;
  int64_t bias_epochs_;
  torch::nn::Linear fc1_{nullptr}, fc2_{nullptr}, remap_{nullptr}, head_fc1_{nullptr}, head_fc2_{nullptr};
  torch::nn::LayerNorm norm_{nullptr}, head_norm_{nullptr};
};

}  // namespace

void register_confounder(sdk::Registrar& r) {
  sdk::ComponentDecl d;
  d.name = "confounder";
  d.doc = "CausalInfoMin TE-D confounder: bias MLP on sg(fused), remap r, bias head; loss κ·R(r) + CE(b_logit) + contrastive";
  d.schema = sdk::schema_of<Config>();
  d.provides = {"infomin_confounder"};
  r.add_bias_estimator(std::move(d), [](const sdk::BuildArgs& a) {
    return std::make_shared<ConfounderEstimator>(sdk::bind<Config>(a.options), a);
  });
}

}  // namespace mmdebias::infomin
