// mcr.competition: the Multimodal Competition Regularizer as a loss-hook intervention.
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "mmdebias/sdk/components.hpp"
#include "mmdebias/sdk/registrar.hpp"

#include "ceb.hpp"
#include "contrastive.hpp"
#include "game.hpp"
#include "global_batch.hpp"
#include "permutations.hpp"
#include "register.hpp"

namespace mmdebias::mcr {
namespace {

const char* kName = "mcr.competition";

/// The options, read once.
struct Settings {
  Game game = Game::Greedy;
  double lambda = 0;
  int64_t samples = 0;
  Shuffle shuffle = Shuffle::Rand;
  double multil = 0;
  double contrastive = 0;
  double temperature = 0;
  double lib = 0;

  static void declare(sdk::OptionBinder<Settings>& b) {
    b.choice("game", &Settings::game, Game::Greedy, game_choices(),
             "Game mode k: greedy (-1), independent (0) or collaborative (+1)");
    b.option("l", &Settings::lambda, 0.1, "λ, the weight of the game regularizer R (0 turns the permuted passes off)")
        .at_least(0);
    b.option("num_samples", &Settings::samples, 32,
             "S, the number of batch permutations per step (all passed through the head in one call)")
        .range(1, 4096);
    b.choice("shuffle", &Settings::shuffle, Shuffle::Rand, shuffle_choices(),
             "Rows of each permutation kept: rand all, rsl those pairing different labels, rsi those that moved");
    b.option("multil", &Settings::multil, 0.01,
             "Weight of the unimodal cross-entropy Σ_m CE(p_m) (per-modality logits of the fusion)")
        .at_least(0);
    b.option("contr_coeff", &Settings::contrastive, 1.0,
             "Weight of the supervised contrastive (NT-Xent) term over all modalities' features")
        .at_least(0);
    b.option("temperature", &Settings::temperature, 0.5, "τ of the contrastive term").range(0.05, 100);
    b.option("lib", &Settings::lib, 0.0,
             "Weight of the CEB term: MSE of an MLP decoding the features from the detached prediction")
        .at_least(0);
  }
};

/// Adds R (the game), the supervised contrastive term, the CEB term and the unimodal CE term.
/// Permuted passes re-run the host's fusion and head (model.fusion()) in whatever train/eval mode the
/// base pass ran; they see the features as the encoders (and on_features hooks) gave them, and do not
/// replay other interventions' on_fused transforms.
class Competition : public sdk::Intervention {
 public:
  Competition(Settings s, const sdk::ModelSpec& model) : s_(s), modalities_(static_cast<int64_t>(model.features.size())) {
    int64_t width = 0;
    for (const auto& [name, spec] : model.features) width += spec.dim * (spec.tokens ? spec.length : 1);
    if (s_.lib > 0) {
      const int64_t hidden = width / static_cast<int64_t>(model.features.size());  // the mean modality width
      decoder_ = register_module("ceb", std::make_shared<CebDecoder>(model.num_classes, hidden, width));
    }
  }

  uint32_t hooks() const override { return sdk::kLoss; }

  // The game runs every pass (M, or 2M for greedy) over S permutations of the batch through fuse + head in
  // one call: at most passes x S rows per sample (a shuffle that keeps only some pairs runs fewer).
  sdk::ComputeCost cost() const override {
    sdk::ComputeCost c;
    if (s_.lambda > 0) c.train_head_rows = (s_.game == Game::Greedy ? 2 : 1) * modalities_ * s_.samples;
    return c;
  }

  void loss(const sdk::ForwardRecord& record, const sdk::Batch& batch, const sdk::Estimates&, sdk::Model& model,
            sdk::LossTerms& terms, sdk::Context& ctx) override {
    const int64_t local_rows = batch.size();
    const Shard shard = locate_shard(ctx, local_rows);
    if (shard.total == 0) return;
    // Batch-level terms see the global batch (every rank computes them alike); see global_batch.hpp.
    sdk::Features features;
    for (const auto& [name, z] : record.features) features[name] = globalize(ctx, shard, z);
    const at::Tensor labels = ctx.world_size() == 1 ? batch.label : ctx.all_gather(batch.label.contiguous());

    if (s_.lambda > 0) {
      const at::Tensor base = globalize(ctx, shard, record.logits);
      const at::Tensor perms = from_rank0(ctx, draw_permutations(ctx.rng("permutations"), labels, s_.samples, s_.shuffle).to(labels.device()));
      const GameResult game = play(model.fusion(), features, base, pair_rows(perms, labels, s_.shuffle), s_.game);
      terms.add("competition", game.value, s_.lambda);
      for (const auto& [name, j] : game.divergence) ctx.metric("js_" + name, j);
      ctx.metric("permuted_rows", static_cast<double>(game.rows));
    }
    if (s_.contrastive > 0) {
      std::vector<at::Tensor> embeddings;
      for (const auto& kv : features) embeddings.push_back(kv.second);
      terms.add("contrastive", supervised_nt_xent(embeddings, labels, s_.temperature), s_.contrastive);
    }
    // Per-sample means: each rank's own rows (the engine's gradient average makes them the global mean).
    if (local_rows == 0) return;
    if (decoder_) {
      std::vector<at::Tensor> flat;
      for (const auto& kv : record.features) flat.push_back(kv.second.reshape({local_rows, -1}));
      terms.add("ceb", ceb_loss(*decoder_, record.logits, at::cat(flat, 1)), s_.lib);
    }
    if (s_.multil > 0) {
      at::Tensor sum;
      for (const auto& [name, logits] : record.modality_logits) {
        at::Tensor ce = at::cross_entropy_loss(logits, batch.label);
        sum = sum.defined() ? sum + ce : ce;
      }
      if (sum.defined()) terms.add("unimodal_ce", sum, s_.multil);
    }
  }

 private:
  Settings s_;
  int64_t modalities_ = 0;  ///< M, for cost().
  std::shared_ptr<CebDecoder> decoder_;
};

/// "m0: 32, m1: 16".
std::string widths(const sdk::ModelSpec& model) {
  std::string s;
  for (const auto& [name, spec] : model.features)
    s += (s.empty() ? "" : ", ") + name + ": " + std::to_string(spec.dim * (spec.tokens ? spec.length : 1));
  return s;
}

std::shared_ptr<sdk::Intervention> make(const sdk::BuildArgs& args) {
  const Settings s = sdk::bind<Settings>(args.options);
  const auto& f = args.model.features;
  if (f.size() < 2)
    throw std::invalid_argument(std::string(kName) + " needs at least 2 modalities (the model has " + std::to_string(f.size()) + ")");
  if (s.contrastive > 0) {
    const auto& first = f.begin()->second;
    for (const auto& [name, spec] : f)
      if (spec.dim * (spec.tokens ? spec.length : 1) != first.dim * (first.tokens ? first.length : 1))
        throw std::invalid_argument(std::string(kName) +
                                    ": the contrastive term compares features across modalities and needs equal widths (" +
                                    widths(args.model) + "); give the encoders one out_dim, or set contr_coeff: 0");
  }
  return std::make_shared<Competition>(s, args.model);
}

}  // namespace

void register_competition(sdk::Registrar& r) {
  sdk::ComponentDecl d;
  d.name = "competition";
  d.doc = "MCR: a game over latent permutations (J = Jensen-Shannon of permuted vs. base predictions), supervised "
          "contrastive and CEB terms, and the unimodal CE";
  d.needs = {sdk::capability::kModalityLogits};
  d.schema = sdk::schema_of<Settings>();
  r.add_intervention(std::move(d), make);
}

}  // namespace mmdebias::mcr
