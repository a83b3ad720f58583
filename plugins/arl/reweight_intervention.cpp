// arl.reweight: ARL's objective. After a warm-up of `start` epochs, the gradient flowing into encoder m is
// scaled (identity forward) by (1 + w_m) with w from arl.uncertainty (the paper), or by the later release's
// 1 + softmax_m(T·ĉ_rest,m·w_m) (scaling: release), and the unimodal bias term γ·Σ_m CE(out_m) is added to the
// host's CE(out); during the warm-up, L = CE(out) + Σ_m CE(out_m), unscaled.
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "gradient_scaler.hpp"
#include "mmdebias/sdk/bind.hpp"
#include "register.hpp"

namespace mmdebias::arl {
namespace {

const char* kName = "arl.reweight";

/// The options of arl.reweight.
struct Config {
  double gamma = 0;
  int64_t start = 0;
  double warmup_gamma = 0;
  std::string scaling;
  double temperature = 0;

  static void declare(sdk::OptionBinder<Config>& b) {
    b.option("gamma", &Config::gamma, 4.0,
             "Weight γ of the bias term Σ_m CE(out_m) after the warm-up (4.0 CREMA-D, 5.0 AVE, 3.0 Kinetics-Sounds)")
        .at_least(0.0);
    b.option("start", &Config::start, 5,
             "Warm-up epochs: ARL's weights and γ apply from epoch `start` on (epochs counted from 0)")
        .at_least(0);
    b.option("warmup_gamma", &Config::warmup_gamma, 1.0, "Weight of Σ_m CE(out_m) during the warm-up (1 as released)")
        .at_least(0.0);
    b.choice("scaling", &Config::scaling, "paper", {"paper", "release"},
             "paper: encoder m's gradient × (1 + w_m); release (main_arl_variance.py's later version): × (1 + softmax over m "
             "of T·ĉ_rest,m·w_m), ĉ_rest,m = (1 − ĉ_m)/(M − 1), ĉ_m = modality m's share of the batch's mean |logit|");
    b.option("temperature", &Config::temperature, 8.0, "T of the release scaling (8 as released)").range(1e-6, 1e6);
  }
};

/// Scales each encoder's gradient by this step's (1 + w_m) and adds the weighted unimodal CE term.
/// Hook order: on_features (2) wraps z_m with a deferred scaler whose factor tensor is filled by loss (6),
/// after arl.uncertainty has observed this step's unimodal logits (5) — so backward uses this step's weights.
class ReweightIntervention : public sdk::Intervention {
 public:
  ReweightIntervention(std::vector<std::string> modalities, const Config& c)
      : modalities_(std::move(modalities)),
        gamma_(c.gamma),
        warmup_gamma_(c.warmup_gamma),
        start_(c.start),
        release_scaling_(c.scaling == "release"),
        temperature_(c.temperature),
        // Per-step and transient (rewritten before every backward), so a plain member, not a checkpointed buffer.
        factors_(at::ones({static_cast<int64_t>(modalities_.size())}, at::kDouble)) {}

  uint32_t hooks() const override { return sdk::kOnFeatures | sdk::kLoss; }

  at::Tensor on_features(const std::string& modality, const at::Tensor& features, sdk::Context& ctx) override {
    if (ctx.phase() != sdk::Phase::Train) return features;
    return scale_gradient_deferred(features, factors_.select(0, index_of(modality)));
  }

  void loss(const sdk::ForwardRecord& record, const sdk::Batch& batch, const sdk::Estimates& estimates, sdk::Model&,
            sdk::LossTerms& terms, sdk::Context& ctx) override {
    const bool active = ctx.epoch() >= start_;
    at::Tensor w = estimates.get(kWeightsEstimate).detach().to(at::kCPU, at::kDouble);
    if (w.dim() != 1 || w.size(0) != static_cast<int64_t>(modalities_.size()) || !w.isfinite().all().item<bool>())
      throw std::runtime_error(std::string(kName) + ": estimate '" + kWeightsEstimate + "' should hold " +
                               std::to_string(modalities_.size()) + " finite weights, got " + describe(w) +
                               "; is arl.uncertainty listed under estimators?");
    {
      torch::NoGradGuard no_grad;
      if (!active) factors_.fill_(1.0);
      else if (release_scaling_) factors_.copy_(release_weights(w, record, ctx) + 1.0);
      else factors_.copy_(w + 1.0);
    }
    at::Tensor bias;
    for (size_t i = 0; i < modalities_.size(); ++i) {
      at::Tensor ce = at::cross_entropy_loss(logits_of(record, modalities_[i]), batch.label);
      bias = bias.defined() ? bias + ce : ce;
      ctx.metric("ce/" + modalities_[i], ce);
      ctx.metric("scale/" + modalities_[i], factors_[static_cast<int64_t>(i)]);
    }
    ctx.metric("active", active ? 1.0 : 0.0);
    terms.add("bias", bias, active ? gamma_ : warmup_gamma_);
  }

 private:
  int64_t index_of(const std::string& modality) const {
    for (size_t i = 0; i < modalities_.size(); ++i)
      if (modalities_[i] == modality) return static_cast<int64_t>(i);
    throw std::invalid_argument(std::string(kName) + ": unknown modality '" + modality + "'");
  }

  /// Modality m's unimodal logits, or a clear error naming the fusion's missing heads.
  static const at::Tensor& logits_of(const sdk::ForwardRecord& record, const std::string& modality) {
    auto it = record.modality_logits.find(modality);
    if (it == record.modality_logits.end())
      throw std::runtime_error(std::string(kName) + ": no per-modality logits for '" + modality +
                               "'; use a fusion that gives them (e.g. std.concat)");
    return it->second;
  }

  /// The later release's weights softmax_m(T·ĉ_rest,m·w_m) (its GradScale then multiplies by 1 + weight): ĉ_m = S_m / Σ_k S_k with S_m the sum over the global
  /// batch of |out_m| (the release's normalised mean |logit|), ĉ_rest,m = (1 − ĉ_m)/(M − 1) — for two modalities the
  /// other one's share, as released (audio: ĉ_visual·w_audio).
  at::Tensor release_weights(const at::Tensor& w, const sdk::ForwardRecord& record, sdk::Context& ctx) {
    const auto m = static_cast<int64_t>(modalities_.size());
    std::vector<at::Tensor> parts;
    for (const auto& name : modalities_) parts.push_back(logits_of(record, name).detach().abs().sum().to(at::kDouble));
    at::Tensor sums = at::stack(parts);  // on the logits' device: the collective's backend may need it there
    ctx.all_reduce_sum(sums);
    sums = sums.to(at::kCPU);
    const double total = sums.sum().item<double>();
    at::Tensor share = total > 0 ? sums / total : at::full_like(sums, 1.0 / static_cast<double>(m));
    at::Tensor rest = (1.0 - share) / static_cast<double>(m - 1);
    for (int64_t i = 0; i < m; ++i) ctx.metric("logit_share/" + modalities_[static_cast<size_t>(i)], share[i].item<double>());
    return at::softmax(temperature_ * rest * w, 0);
  }

  static std::string describe(const at::Tensor& t) {
    std::string s = "[";
    for (int64_t i = 0; i < t.numel(); ++i) s += (i ? ", " : "") + std::to_string(t.reshape({-1})[i].item<double>());
    return s + "]";
  }

  std::vector<std::string> modalities_;
  double gamma_;
  double warmup_gamma_;
  int64_t start_;
  bool release_scaling_;
  double temperature_;
  at::Tensor factors_;  // 1 + w_m (1 during the warm-up), read by the deferred gradient scalers at backward
};

std::shared_ptr<sdk::Intervention> make(const sdk::BuildArgs& args) {
  std::vector<std::string> names;
  for (const auto& m : args.model.inputs) names.push_back(m.name);
  if (names.size() < 2)
    throw std::invalid_argument(std::string(kName) + " reweights modalities against each other and needs at least 2; the dataset has " +
                                std::to_string(names.size()));
  return std::make_shared<ReweightIntervention>(std::move(names), sdk::bind<Config>(args.options));
}

}  // namespace

void register_reweight_intervention(sdk::Registrar& r) {
  sdk::ComponentDecl d;
  d.name = "reweight";
  d.doc = "ARL's objective: after `start` epochs, encoder m's gradient scaled by (1 + w_m) (or the release's "
          "1 + softmax(T c w)) and the bias term gamma * sum_m CE(out_m); before, CE(out) + sum_m CE(out_m)";
  d.schema = sdk::schema_of<Config>();
  d.needs = {sdk::capability::kModalityLogits, kWeightsCapability};
  r.add_intervention(std::move(d), make);
}

}  // namespace mmdebias::arl
