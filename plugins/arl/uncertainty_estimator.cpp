// arl.uncertainty: per-modality prediction uncertainty from the unimodal logits, normalised, clamped and
// turned into ARL's weights w_m ∝ 1/Û_m. Statistics are taken over the global batch while training.
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "mmdebias/sdk/bind.hpp"
#include "register.hpp"
#include "weights.hpp"

namespace mmdebias::arl {
namespace {

const char* kName = "arl.uncertainty";

/// The options of arl.uncertainty.
struct Config {
  std::string estimator, mode;
  double decay = 0, clamp = 0;

  static void declare(sdk::OptionBinder<Config>& b) {
    b.choice("estimator", &Config::estimator, "entropy", {"entropy", "variance"},
             "entropy: batch mean of the unimodal softmax entropy (as released); variance: batch variance of the "
             "unimodal probability of the true class");
    b.choice("mode", &Config::mode, "batch", {"batch", "ema"},
             "batch: this step's batch alone; ema: exponential moving average over steps");
    b.option("decay", &Config::decay, 0.9, "ema mode: U <- decay * U + (1 - decay) * U_step (the first step initialises U)")
        .range(0.0, 0.999999);
    b.option("clamp", &Config::clamp, 0.3, "Lower bound of the normalised uncertainty Û_m = max(U_m / Σ U, clamp)")
        .range(1e-6, 1.0);
  }
};

/// The per-modality uncertainty U_m of one step, then Û_m = max(U_m / Σ U, clamp) and w_m = (1/Û_m) / Σ (1/Û).
/// `entropy` (as released): U_m = batch mean of H(σ(out_m)). `variance`: U_m = population variance over the
/// batch of σ(out_m)[y], the unimodal probability of the true class. In `ema` mode U is an exponential moving
/// average of the per-step U (updated in training steps only; kept in buffers, so it is checkpointed).
class UncertaintyEstimator : public sdk::BiasEstimator {
 public:
  UncertaintyEstimator(std::vector<std::string> modalities, const Config& c)
      : modalities_(std::move(modalities)),
        variance_(c.estimator == "variance"),
        ema_mode_(c.mode == "ema"),
        decay_(c.decay),
        clamp_(c.clamp) {
    const auto m = static_cast<int64_t>(modalities_.size());
    ema_ = register_buffer("ema", at::zeros({m}, at::kDouble));
    ema_steps_ = register_buffer("ema_steps", at::zeros({}, at::kLong));
  }

  // entropy needs only the logits, so it is computed in observe (and also shows at evaluation). variance
  // needs the labels, which observe does not receive: observe publishes the tensors and the estimator's loss
  // hook (it gets the batch, and the engine runs estimators' loss before interventions' loss) fills them in place.
  void observe(const sdk::ForwardRecord& record, sdk::Estimates& estimates, sdk::Context& ctx) override {
    const auto m = static_cast<int64_t>(modalities_.size());
    u_ = at::full({m}, std::numeric_limits<double>::quiet_NaN(), at::kDouble);
    normalized_ = at::full_like(u_, std::numeric_limits<double>::quiet_NaN());
    weights_ = at::full_like(u_, std::numeric_limits<double>::quiet_NaN());
    estimates.set(kUncertaintyEstimate, u_);
    estimates.set(kNormalizedEstimate, normalized_);
    estimates.set(kWeightsEstimate, weights_);
    if (!variance_) update(record, at::Tensor(), ctx);
    if (ctx.phase() == sdk::Phase::Eval) log_spread(record, ctx);
  }

  void loss(const sdk::ForwardRecord& record, const sdk::Batch& batch, const sdk::Estimates&, sdk::LossTerms&,
            sdk::Context& ctx) override {
    if (variance_) update(record, batch.label, ctx);
  }

 private:
  /// Computes this step's U, Û and w into the published tensors and logs them.
  void update(const sdk::ForwardRecord& record, const at::Tensor& label, sdk::Context& ctx) {
    torch::NoGradGuard no_grad;  // the estimate is detached: sg(.) in the method's equations
    const bool train = ctx.phase() == sdk::Phase::Train;
    at::Tensor u = batch_uncertainty(record, label, ctx, train);
    if (ema_mode_) u = follow_ema(u, train);
    u_.copy_(u);
    normalized_.copy_(normalize_uncertainty(u, clamp_));
    weights_.copy_(inverse_weights(normalized_));
    for (size_t i = 0; i < modalities_.size(); ++i) {
      const auto k = static_cast<int64_t>(i);
      ctx.metric("uncertainty/" + modalities_[i], u_[k]);
      ctx.metric("normalized/" + modalities_[i], normalized_[k]);
      ctx.metric("weight/" + modalities_[i], weights_[k]);
    }
  }

  /// Diagnostic at evaluation: "spread/<m>", the std over the batch of modality m's logit contribution
  /// W_m z_m (= out_m − b; the std ignores b), averaged over classes. The ratio of two modalities' spreads
  /// measures how much the fused prediction moves with each (docs/methods/arl.md uses it in the benchmark).
  void log_spread(const sdk::ForwardRecord& record, sdk::Context& ctx) {
    torch::NoGradGuard no_grad;
    for (const auto& name : modalities_) {
      auto it = record.modality_logits.find(name);
      if (it == record.modality_logits.end() || it->second.size(0) < 2) return;
      ctx.metric("spread/" + name, it->second.to(at::kDouble).std(0, /*unbiased=*/false).mean());
    }
  }

  /// U [M] (double, CPU) of this batch; over every rank's batch in training (the collective is skipped
  /// elsewhere because evaluation may skip a rank's empty batch, and the estimate there is diagnostic).
  at::Tensor batch_uncertainty(const sdk::ForwardRecord& record, const at::Tensor& label, sdk::Context& ctx, bool train) {
    // Sums per modality, then the sample count: [Σ s_m (, Σ s_m²) ..., N]; one collective for all of them.
    const int64_t per = variance_ ? 2 : 1;
    const auto m = static_cast<int64_t>(modalities_.size());
    std::vector<at::Tensor> parts;
    int64_t n = 0;
    for (const auto& name : modalities_) {
      auto it = record.modality_logits.find(name);
      if (it == record.modality_logits.end() || !it->second.defined())
        throw std::runtime_error(std::string(kName) + ": the forward record has no per-modality logits for '" + name +
                                 "'; use a fusion that gives them (e.g. std.concat or std.late)");
      at::Tensor logits = it->second.detach().to(at::kDouble);
      n = logits.size(0);
      parts.push_back(variance_ ? probability_sums(logits, label) : entropy_sum(logits));
    }
    at::Tensor sums = at::cat(parts).to(at::kDouble);
    sums = at::cat({sums, at::full({1}, static_cast<double>(n), sums.options())});
    if (train) ctx.all_reduce_sum(sums);
    sums = sums.to(at::kCPU);
    const double count = sums[per * m].item<double>();
    if (count <= 0) return at::zeros({m}, at::kDouble);  // no sample anywhere: no evidence, equal weights
    at::Tensor s = sums.narrow(0, 0, per * m).view({m, per}) / count;
    if (!variance_) return s.select(1, 0).contiguous();
    return (s.select(1, 1) - s.select(1, 0).pow(2)).clamp_min(0.0).contiguous();  // E[p²] − E[p]²
  }

  /// [Σ_i H(σ(logits_i))].
  static at::Tensor entropy_sum(const at::Tensor& logits) {
    at::Tensor logp = at::log_softmax(logits, 1);
    return (-(logp.exp() * logp).sum(1)).sum().reshape({1});
  }

  /// [Σ_i p_i, Σ_i p_i²] with p_i = σ(logits_i)[y_i].
  static at::Tensor probability_sums(const at::Tensor& logits, const at::Tensor& label) {
    at::Tensor p = at::softmax(logits, 1).gather(1, label.to(logits.device()).reshape({-1, 1})).reshape({-1});
    return at::stack({p.sum(), p.pow(2).sum()});
  }

  /// The EMA after this step's U (training only; elsewhere the current average is read, or U before any step).
  at::Tensor follow_ema(const at::Tensor& u, bool train) {
    const bool first = ema_steps_.item<int64_t>() == 0;
    if (!train) return first ? u : ema_.to(at::kCPU, at::kDouble).clone();
    at::Tensor next = first ? u : decay_ * ema_.to(at::kCPU, at::kDouble) + (1.0 - decay_) * u;
    ema_.copy_(next);
    ema_steps_.add_(1);
    return next;
  }

  std::vector<std::string> modalities_;
  bool variance_;
  bool ema_mode_;
  double decay_;
  double clamp_;
  at::Tensor ema_;
  at::Tensor ema_steps_;
  at::Tensor u_, normalized_, weights_;  // this step's published estimates (filled in place)
};

/// The dataset's modalities in order; ARL compares modalities, so it needs at least two.
std::vector<std::string> modalities_of(const sdk::BuildArgs& args, const std::string& component) {
  std::vector<std::string> names;
  for (const auto& m : args.model.inputs) names.push_back(m.name);
  if (names.size() < 2)
    throw std::invalid_argument(component + " compares modalities and needs at least 2; the dataset has " +
                                std::to_string(names.size()));
  return names;
}

std::shared_ptr<sdk::BiasEstimator> make(const sdk::BuildArgs& args) {
  return std::make_shared<UncertaintyEstimator>(modalities_of(args, kName), sdk::bind<Config>(args.options));
}

}  // namespace

void register_uncertainty_estimator(sdk::Registrar& r) {
  sdk::ComponentDecl d;
  d.name = "uncertainty";
  d.doc = "ARL's per-modality uncertainty from the unimodal logits (batch entropy or true-class probability variance), "
          "normalised, clamped, and the weights w_m ∝ 1/Û_m; publishes arl.uncertainty, arl.uncertainty_normalized, arl.weights";
  d.schema = sdk::schema_of<Config>();
  d.needs = {sdk::capability::kModalityLogits};
  d.provides = {kWeightsCapability};
  r.add_bias_estimator(std::move(d), make);
}

}  // namespace mmdebias::arl
