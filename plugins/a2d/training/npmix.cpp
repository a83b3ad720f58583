// a2d.npmix: Nearest-neighbour Prototype Mix (MultiOOD). Detached fused features — the concatenation
// [z_1; ...; z_M] of the modality features, what the release queues and its fused head reads — enter
// per-class FIFO queues of Q entries, identical on every rank (the batch is all-gathered before enqueueing).
// Once every queue is full and from epoch start_epoch on, each step makes one outlier per class i:
//   o_i = lambda * a + (1 - lambda) * b,  a from queue i, b from queue j, lambda ~ Beta(alpha, alpha),
// j drawn among i's nearest class means. The outliers' unimodal predictions are, as released, each
// modality's head applied to the outlier's block of that modality: v_m(o) = head_m(o[slice_m]), heads that share
// nothing with the fused head (independent modality heads), so these terms never reach it. Adds
//   -a2d_ratio_ood * mean_{m<n} D(softmax v_m(o), softmax v_n(o))  -  ood_entropy_ratio * mean_m mean_i H~(v_m(o_i)).
// Queues are registered buffers (saved in checkpoints, restored on resume); the draw comes from the
// component's "npmix" stream, and rank 0's draw is used by every rank.
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "common.hpp"
#include "discrepancy.hpp"
#include "npmix_math.hpp"
#include "register.hpp"

namespace mmdebias::a2d {
namespace {

const char* kName = "a2d.npmix";

/// NP-Mix's settings, as the options give them.
struct NpmixSettings {
  int64_t queue_size = 0;
  int64_t nn_k = 0;
  double alpha = 0;
  int64_t start_epoch = 0;
  double ratio_ood = 0;
  double entropy_ratio = 0;
  Discrepancy kind = Discrepancy::Hellinger;

  static void declare(sdk::OptionBinder<NpmixSettings>& b) {
    b.option("queue_size", &NpmixSettings::queue_size, 65, "Features kept per class (FIFO), Q").at_least(1);
    b.option("nn_k", &NpmixSettings::nn_k, 3,
             "KD-tree query size as released: the class itself plus nn_k - 1 nearest other classes")
        .at_least(2);
    b.option("alpha", &NpmixSettings::alpha, 10.0, "Mixing weight lambda ~ Beta(alpha, alpha)").at_least(1e-6);
    b.option("start_epoch", &NpmixSettings::start_epoch, 10,
             "First epoch (from 0) in which outliers are made (queues must also be full)")
        .at_least(0);
    b.option("a2d_ratio_ood", &NpmixSettings::ratio_ood, 0.5, "Weight of the outliers' disagreement term (-discrepancy)")
        .at_least(0.0);
    b.option("ood_entropy_ratio", &NpmixSettings::entropy_ratio, 0.5,
             "Weight of the outliers' entropy term (-mean normalised entropy)")
        .at_least(0.0);
    b.choice("discrepancy", &NpmixSettings::kind, Discrepancy::Hellinger, discrepancy_table(),
             "Discrepancy between the outliers' unimodal predictions");
  }
};

/// Packs a draw into one row [1, 4C] of doubles, so that rank 0's can be all-gathered and shared.
at::Tensor pack(const NpmixDraw& d) {
  return at::cat({d.first.to(at::kDouble), d.neighbour.to(at::kDouble), d.second.to(at::kDouble), d.lambda.to(at::kDouble)}).unsqueeze(0);
}

/// The draw packed in row 0 of rows [W, 4C].
NpmixDraw unpack_first(const at::Tensor& rows, int64_t classes) {
  at::Tensor r = rows[0].to(at::kCPU);
  return {r.narrow(0, 0, classes).to(at::kLong), r.narrow(0, classes, classes).to(at::kLong),
          r.narrow(0, 2 * classes, classes).to(at::kLong), r.narrow(0, 3 * classes, classes).clone()};
}

class Npmix : public sdk::Intervention {
 public:
  Npmix(NpmixSettings s, int64_t classes, int64_t dim, int64_t modalities) : s_(s), classes_(classes), modalities_(modalities) {
    queues_ = register_buffer("queues", at::zeros({classes, s.queue_size, dim}));
    counts_ = register_buffer("counts", at::zeros({classes}, at::kLong));
  }

  uint32_t hooks() const override { return sdk::kLoss; }

  // Once active (queues full, from start_epoch) every step sends C synthesised outliers through each of the
  // M modality heads, whatever the batch size; before that it adds nothing. The estimate is the active step.
  sdk::ComputeCost cost() const override {
    sdk::ComputeCost c;
    c.train_head_rows_fixed = classes_ * modalities_;
    return c;
  }

  void loss(const sdk::ForwardRecord& record, const sdk::Batch& batch, const sdk::Estimates&, sdk::Model& model,
            sdk::LossTerms& terms, sdk::Context& ctx) override {
    const auto& modalities = model.modalities();
    std::vector<at::Tensor> features = modality_features(record, modalities, kName);
    at::Tensor z = at::cat(features, 1).detach();
    if (z.size(1) != queues_.size(2))
      throw std::invalid_argument(std::string(kName) + ": the concatenated modality features are " + std::to_string(z.size(1)) +
                                  " wide, the queues " + std::to_string(queues_.size(2)));
    bool active = false;
    {
      torch::NoGradGuard no_grad;
      // Every rank enqueues the whole global batch in rank order, so queues are the same everywhere.
      at::Tensor all_z = ctx.all_gather(z), all_y = ctx.all_gather(batch.label);
      const bool full = counts_.min().item<int64_t>() >= s_.queue_size;
      enqueue(queues_, counts_, all_z, all_y);
      active = full && ctx.epoch() >= s_.start_epoch;
    }
    ctx.metric("active", active ? 1.0 : 0.0);
    if (!active) return;  // no term until the queues are full (terms are kept by name: none need stand in)
    at::Tensor outliers = make_outliers(ctx).to(z.scalar_type());
    std::vector<at::Tensor> logits, probs;
    int64_t offset = 0;
    for (size_t i = 0; i < modalities.size(); ++i) {
      const int64_t width = features[i].size(1);
      logits.push_back(model.fusion().modality_head(modalities[i], outliers.narrow(1, offset, width).contiguous()));
      probs.push_back(probabilities(logits.back()));
      offset += width;
    }
    at::Tensor entropy;
    for (const auto& v : logits) entropy = entropy.defined() ? entropy + normalized_entropy(v).mean() : normalized_entropy(v).mean();
    entropy = entropy / static_cast<double>(logits.size());
    terms.add("ood_discrepancy", -mean_pairwise_discrepancy(s_.kind, probs), s_.ratio_ood);
    terms.add("ood_entropy", -entropy, s_.entropy_ratio);
  }

 private:
  /// The step's outliers [C, D]: class means, neighbour candidates, rank 0's draw, the mix.
  at::Tensor make_outliers(sdk::Context& ctx) {
    torch::NoGradGuard no_grad;
    at::Tensor candidates = neighbour_candidates(queues_.mean(1), s_.nn_k);
    NpmixDraw draw = draw_npmix(candidates, s_.queue_size, s_.alpha, ctx.rng("npmix"));
    if (ctx.world_size() > 1) draw = unpack_first(ctx.all_gather(pack(draw)), queues_.size(0));
    return synthesize(queues_, draw);
  }

  NpmixSettings s_;
  int64_t classes_ = 0, modalities_ = 0;  ///< C and M, for cost().
  at::Tensor queues_, counts_;
};

std::shared_ptr<sdk::Intervention> make(const sdk::BuildArgs& a) {
  const NpmixSettings s = sdk::bind<NpmixSettings>(a.options);
  if (a.model.num_classes < 2)
    throw std::invalid_argument(std::string(kName) + " mixes neighbouring classes and needs at least 2, got " + std::to_string(a.model.num_classes));
  if (!(s.alpha > 0.0)) throw std::invalid_argument(std::string(kName) + ": alpha must be > 0");
  int64_t dim = 0;
  for (const auto& m : a.model.inputs) {
    auto it = a.model.features.find(m.name);
    if (it == a.model.features.end()) throw std::invalid_argument(std::string(kName) + ": modality '" + m.name + "' has no encoder output");
    if (it->second.tokens)
      throw std::invalid_argument(std::string(kName) + " queues pooled features, but the encoder of '" + m.name +
                                  "' gives tokens [B, T, D]; set its pool option to mean or cls");
    dim += it->second.dim;
  }
  if (a.model.inputs.size() < 2) throw std::invalid_argument(std::string(kName) + " needs at least two modalities");
  return std::make_shared<Npmix>(s, a.model.num_classes, dim, static_cast<int64_t>(a.model.inputs.size()));
}

}  // namespace

void register_npmix(sdk::Registrar& r) {
  sdk::ComponentDecl d;
  d.name = "npmix";
  d.doc = "NP-Mix: outliers mixed between nearest-neighbour classes' queued features; their unimodal predictions pushed to "
          "disagree and to high entropy";
  d.schema = sdk::schema_of<NpmixSettings>();
  // MultiOOD's unimodal classifiers are their own (fc_m on z_m), so its unimodal terms never train the fused head.
  d.needs = {sdk::capability::kModalityLogits, sdk::capability::kIndependentModalityHeads};
  r.add_intervention(std::move(d), make);
}

}  // namespace mmdebias::a2d
