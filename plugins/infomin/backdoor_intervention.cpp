// infomin.backdoor (ATE-D): K-means centroids of the (still biased) model's fused features, fitted once in the
// run, serve as substitute confounders c_k; the head is trained on features gated by the sample's confounder
// and the prediction is backdoor-adjusted: mean over k of f(x, c_k).
#include <stdexcept>
#include <string>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/nn/modules/linear.h>

#include "mmdebias/sdk/bind.hpp"
#include "mmdebias/sdk/components.hpp"
#include "mmdebias/sdk/precision.hpp"
#include "mmdebias/sdk/registrar.hpp"
#include "kmeans.hpp"
#include "register.hpp"

namespace mmdebias::infomin {
namespace {

/// The options of infomin.backdoor.
struct Config {
  int64_t clusters = 0, fit_epoch = 0, iterations = 0;

  static void declare(sdk::OptionBinder<Config>& b) {
    b.option("clusters", &Config::clusters, 8, "Number K of substitute confounders (K-means centroids)").range(1, 4096);
    // The release clusters the features of a trained (biased) model; one epoch of plain training is our warm-up
    // (the examples train 3-4 epochs, and the gate needs epochs after the fit): raise it for longer runs.
    b.option("fit_epoch", &Config::fit_epoch, 1,
             "Epoch whose training features are clustered: the model trained for fit_epoch epochs is the biased one; "
             "the gate trains from the next epoch on")
        .at_least(0);
    b.option("iterations", &Config::iterations, 50,
             "Most Lloyd iterations of K-means (stops earlier when assignments settle)")
        .range(1, 10000);
  }
};

/// Replaces a buffer's contents (shape included) in place, so the module's registered buffer follows.
void assign_buffer(at::Tensor& buffer, const at::Tensor& value) {
  at::NoGradGuard no_grad;
  buffer.set_(value.to(buffer.options()).contiguous());
}

/// Phases of a run: epochs < fit_epoch train the plain (biased) model; during epoch fit_epoch the detached
/// fused features of every rank are gathered (with their sample indices); at the first step after it K-means
/// runs and rank 0's centroids are kept by all. From then on the head sees
/// g(x, c) = x ⊙ 2σ(W [x; c] + b) with c the nearest centroid, and prediction = mean_k head(g(x, c_k)).
class BackdoorIntervention : public sdk::Intervention {
 public:
  BackdoorIntervention(const Config& c, const sdk::BuildArgs& args)
      : clusters_(c.clusters), fit_epoch_(c.fit_epoch), iterations_(c.iterations) {
    const int64_t d = args.model.fused_dim;
    if (d < 1) throw std::invalid_argument("infomin.backdoor needs the fusion's width (fused_dim), got " + std::to_string(d));
    gate_ = register_module("gate", torch::nn::Linear(2 * d, d));
    {  // W = 0, b = 0: the gate starts at exactly 1, so switching to the adjusted model does not jolt the head
      at::NoGradGuard no_grad;
      gate_->weight.zero_();
      gate_->bias.zero_();
    }
    centroids_ = register_buffer("centroids", at::empty({0, d}));
    collected_ = register_buffer("collected", at::empty({0, d}));
    collected_index_ = register_buffer("collected_index", at::empty({0}, at::kLong));
  }

  uint32_t hooks() const override { return sdk::kOnBatch | sdk::kOnFused | sdk::kPredict; }

  void on_batch(sdk::Batch& batch, sdk::Context& ctx) override { pending_index_ = batch.index; }

  at::Tensor on_fused(const at::Tensor& fused, const sdk::Estimates&, sdk::Context& ctx) override {
    if (ctx.phase() == sdk::Phase::Train && !fitted()) {
      if (ctx.epoch() == fit_epoch_) collect(fused, ctx);
      else if (ctx.epoch() > fit_epoch_) fit(ctx);
    }
    stash_ = fused;
    // Before the fit the gate is unused. A zero-weighted touch gives it a defined zero gradient, so Adam counts
    // its steps alike for 1 rank (where an unused parameter's gradient stays undefined and is skipped) and for
    // 2 ranks (where the host's gradient averaging turns a missing gradient into zeros).
    if (!fitted()) return ctx.phase() == sdk::Phase::Train ? fused + 0.0 * (gate_->weight.sum() + gate_->bias.sum()) : fused;
    at::Tensor nearest = nearest_centroid(fused.detach(), centroids_);
    return gated(fused, centroids_.index_select(0, nearest));
  }

  at::Tensor predict(const sdk::ForwardRecord& record, const at::Tensor& logits, const sdk::Batch&, const sdk::Estimates&,
                     sdk::Model& model, sdk::Context& ctx) override {
    if (ctx.phase() == sdk::Phase::Eval) ctx.metric("fitted", fitted() ? 1.0 : 0.0);
    if (!fitted() || !stash_.defined() || stash_.size(0) != logits.size(0)) return logits;
    if (ctx.phase() == sdk::Phase::Eval) log_gate_shift(ctx);
    at::Tensor adjusted = backdoor_logits(stash_, model.fusion());
    // Keep what predict hooks listed earlier added to the head's logits (e.g. TE-D's − b_logit).
    return adjusted + (logits - record.logits);
  }

 private:
  bool fitted() const { return centroids_.size(0) > 0; }

  /// 2σ(W [x; c] + b): a per-feature weight in (0, 2) conditioned on the confounder.
  at::Tensor gate(const at::Tensor& x, const at::Tensor& c) {
    return 2 * at::sigmoid(gate_->forward(at::cat({x, c.expand_as(x)}, 1)));
  }

  /// g(x, c) = x ⊙ gate(x, c).
  at::Tensor gated(const at::Tensor& x, const at::Tensor& c) { return x * gate(x, c); }

  /// "gate_shift": mean |2σ(W [x; c] + b) − 1| at the nearest centroid, how far the gate has moved from the
  /// identity it starts at (0: the adjustment changes nothing but the averaging over k).
  void log_gate_shift(sdk::Context& ctx) {
    at::NoGradGuard no_grad;
    at::Tensor x = stash_.detach();
    at::Tensor g = gate(x, centroids_.index_select(0, nearest_centroid(x, centroids_)));
    ctx.metric("gate_shift", (g - 1).abs().mean().item<double>());
  }

  /// mean over k of head(g(x, c_k)): P(y | do(x)) with a uniform prior over the substitute confounders.
  at::Tensor backdoor_logits(const at::Tensor& x, sdk::Fusion& fusion) {
    at::Tensor sum;
    for (int64_t k = 0; k < centroids_.size(0); ++k) {
      at::Tensor l = sdk::fp32(fusion.head(gated(x, centroids_[k].unsqueeze(0))));  // the mean over k in fp32
      sum = sum.defined() ? sum + l : l;
    }
    return sum / static_cast<double>(centroids_.size(0));
  }

  void collect(const at::Tensor& fused, sdk::Context& ctx) {
    if (!pending_index_.defined() || pending_index_.size(0) != fused.size(0))
      throw std::logic_error("infomin.backdoor: the batch indices of the step were not seen by on_batch");
    at::NoGradGuard no_grad;
    // Gathered every step, so every rank (and rank 0's checkpoint) holds the whole epoch's rows.
    at::Tensor rows = ctx.all_gather(fused.detach().to(collected_.options()).contiguous());
    at::Tensor index = ctx.all_gather(pending_index_.to(collected_index_.options()).contiguous());
    assign_buffer(collected_, at::cat({collected_, rows}));
    assign_buffer(collected_index_, at::cat({collected_index_, index}));
  }

  void fit(sdk::Context& ctx) {
    at::NoGradGuard no_grad;
    // Ordered by sample index: the same matrix for any number of ranks.
    at::Tensor features = collected_.to(at::kDouble).index_select(0, collected_index_.argsort());
    if (features.size(0) < clusters_)
      throw std::invalid_argument("infomin.backdoor: clusters = " + std::to_string(clusters_) + " but only " +
                                  std::to_string(features.size(0)) + " features were collected in epoch " +
                                  std::to_string(fit_epoch_) + "; lower clusters");
    at::Tensor centroids = kmeans(features, clusters_, iterations_, ctx.rng("kmeans"));
    if (ctx.world_size() > 1) {  // ranks draw from different streams: keep rank 0's result everywhere
      if (ctx.rank() != 0) centroids.zero_();
      ctx.all_reduce_sum(centroids);
    }
    assign_buffer(centroids_, centroids);
    assign_buffer(collected_, at::empty({0, collected_.size(1)}));
    assign_buffer(collected_index_, at::empty({0}, at::kLong));
    ctx.log(sdk::LogLevel::Info, "fitted " + std::to_string(clusters_) + " substitute confounders on " +
                                     std::to_string(features.size(0)) + " features of epoch " + std::to_string(fit_epoch_));
  }

  int64_t clusters_, fit_epoch_, iterations_;
  torch::nn::Linear gate_{nullptr};
  at::Tensor centroids_, collected_, collected_index_;
  at::Tensor pending_index_;  ///< The current training batch's sample indices (from on_batch).
  at::Tensor stash_;          ///< This step's input to on_fused, for predict.
};

}  // namespace

void register_backdoor(sdk::Registrar& r) {
  sdk::ComponentDecl d;
  d.name = "backdoor";
  d.doc = "CausalInfoMin ATE-D: K-means substitute confounders of the biased model's fused features (fitted after "
          "fit_epoch, saved with the run); backdoor-adjusted prediction = mean over k of head(g(x, c_k))";
  d.schema = sdk::schema_of<Config>();
  r.add_intervention(std::move(d), [](const sdk::BuildArgs& a) {
    return std::make_shared<BackdoorIntervention>(sdk::bind<Config>(a.options), a);
  });
}

}  // namespace mmdebias::infomin
