// causalmm.counterfactual_attention: counterfactual attention at the chosen sites, the contrastive prediction
// s = (1 + nγ)·l − γ·Σ_levels l̄_cf with the adaptive plausibility cut-off ε, K-sample backdoor adjustment,
// the per-site average causal effect of attention at evaluation, and an optional training term.
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "contrast.hpp"
#include "counterfactual_edits.hpp"
#include "counterfactual_passes.hpp"
#include "mmdebias/sdk/registrar.hpp"
#include "register.hpp"
#include "site_selection.hpp"
#include "variant_sweep.hpp"

namespace mmdebias::causalmm {
namespace {

const char* kName = "causalmm.counterfactual_attention";
const char* kStream = "counterfactual";  // the ctx.rng stream every random map is drawn from
const char* kSweepStream = "sweep";      // its own stream, so a sweep leaves the prediction's draws unchanged

struct Config {
  std::vector<std::string> site_patterns;  // the option sites
  std::string level_mode;                  // the option levels
  Edit edit = Edit::Uniform;
  double gamma = 0, epsilon = 0;
  int64_t samples = 0;
  double loss_weight = 0;
  bool site_effects = false;
  SweepGrid sweep;
  // Resolved against the model by make().
  std::vector<std::string> sites;  // selected, in model order
  std::vector<Level> levels;

  static void declare(sdk::OptionBinder<Config>& b) {
    b.option("sites", &Config::site_patterns, {"*"},
             "Attention sites to intervene on: names or glob patterns ('encoders.text.*', 'fusion.*')");
    b.choice("levels", &Config::level_mode, "component", {"component", "site", "all"},
             "One counterfactual pass per: component owning sites (an encoder, the fusion), site, or all sites at once");
    b.choice("edit", &Config::edit, Edit::Uniform, edit_table(),
             "Counterfactual map: random noise, uniform rows, reversed rows, the head's Q×K map shuffled (the release), "
             "or keys shuffled per head");
    b.option("gamma", &Config::gamma, 1.0, "Contrast strength γ in s = (1 + nγ)·l − γ·Σ l_cf (0 = factual logits)")
        .at_least(0.0);
    b.option("epsilon", &Config::epsilon, 0.1,
             "Plausibility cut-off ε: classes with probability below ε·max are cut (0 = none, 1 = arg-max only)")
        .range(0.0, 1.0);
    b.option("samples", &Config::samples, 1,
             "K counterfactual maps averaged per level (backdoor adjustment; 1 = plain counterfactual reasoning)")
        .range(1, 1024);
    b.option("loss_weight", &Config::loss_weight, 0.0,
             "Weight of the training term CE((1 + nγ)·l − γ·Σ l_cf, y) (0 = training-free, as in the paper)")
        .at_least(0.0);
    b.option("site_effects", &Config::site_effects, true,
             "Log the effect mean|l − l_cf| of each site alone at evaluation (extra passes for sites sharing a level)");
    b.choice("sweep_edits", [](Config& c) -> auto& { return c.sweep.edits; }, {}, edit_table(),
             "What-if diagnostic: also score every sweep edit x gamma x epsilon at evaluation (metrics sweep/...)");
    b.option("sweep_gammas", [](Config& c) -> auto& { return c.sweep.gammas; }, {}, "The gammas of the what-if sweep")
        .at_least(0.0);
    b.option("sweep_epsilons", [](Config& c) -> auto& { return c.sweep.epsilons; }, {}, "The epsilons of the what-if sweep")
        .range(0.0, 1.0);
  }
};

/// Replaces attention by counterfactual maps in extra forward passes; the factual pass is left alone.
class CounterfactualAttention : public sdk::Intervention {
 public:
  explicit CounterfactualAttention(Config c) : c_(std::move(c)) {}

  uint32_t hooks() const override { return sdk::kPredict | (c_.loss_weight > 0 ? sdk::kLoss : 0u); }

  std::vector<std::string> claimed_sites() const override { return c_.sites; }

  // Counts the Model::forward calls predict() and loss() make: run_counterfactuals runs `samples` passes for
  // an edit that draws (random, shuffle, shuffle_keys) and one otherwise, once per level, per lone site, per swept edit.
  sdk::ComputeCost cost() const override {
    auto passes = [&](Edit e) { return edit_is_random(e) ? c_.samples : int64_t{1}; };
    const auto levels = static_cast<int64_t>(c_.levels.size());
    sdk::ComputeCost c;
    c.eval_forwards = levels * passes(c_.edit);
    if (c_.site_effects)
      for (const auto& level : c_.levels)
        if (level.sites.size() > 1) c.eval_forwards += static_cast<int64_t>(level.sites.size()) * passes(c_.edit);
    if (!c_.sweep.empty())
      for (Edit e : c_.sweep.edits) c.eval_forwards += levels * passes(e);
    if (c_.loss_weight > 0) c.train_forwards = levels * passes(c_.edit);
    return c;
  }

  at::Tensor predict(const sdk::ForwardRecord& record, const at::Tensor& logits, const sdk::Batch& batch,
                     const sdk::Estimates&, sdk::Model& model, sdk::Context& ctx) override {
    at::Generator& gen = ctx.rng(kStream);
    std::vector<at::Tensor> cf;
    std::set<std::string> measured;  // sites whose effect is known from their level's pass
    for (const auto& level : c_.levels) {
      CounterfactualOutcome o = run_counterfactuals(batch, model, level.sites, c_.edit, c_.samples, gen, record.logits);
      cf.push_back(o.mean_logits);
      if (level.sites.size() == 1) {
        ctx.metric("ace/" + level.sites.front(), o.effect);
        measured.insert(level.sites.front());
      } else {
        ctx.metric("ace_level/" + level.name, o.effect);
      }
    }
    if (c_.site_effects)  // sites sharing a level: one more pass each, that site alone
      for (const auto& site : c_.sites)
        if (!measured.count(site))
          ctx.metric("ace/" + site, run_counterfactuals(batch, model, {site}, c_.edit, c_.samples, gen, record.logits).effect);
    if (!c_.sweep.empty())
      log_sweep(c_.sweep, c_.levels, c_.samples, record, logits, batch, model, ctx.rng(kSweepStream),
                [&](const std::string& name, const at::Tensor& value) { ctx.metric(name, value); });
    at::Tensor s = contrastive_prediction(logits, record.logits, cf, c_.gamma, c_.epsilon);
    ctx.metric("changed", s.argmax(-1).ne(logits.argmax(-1)).to(at::kDouble).mean());
    return s;
  }

  // The training term (an mmdebias addition; the paper is training-free): the cross-entropy of the contrast
  // s = (1 + nγ)·l − γ·Σ l̄_cf, gradients through both passes. See docs/methods/causalmm.md.
  void loss(const sdk::ForwardRecord& record, const sdk::Batch& batch, const sdk::Estimates&, sdk::Model& model,
            sdk::LossTerms& terms, sdk::Context& ctx) override {
    if (batch.size() == 0) return;  // a rank left without samples adds no term (terms are kept by name)
    at::Generator& gen = ctx.rng(kStream);
    std::vector<at::Tensor> cf;
    for (const auto& level : c_.levels)
      cf.push_back(run_counterfactuals(batch, model, level.sites, c_.edit, c_.samples, gen, record.logits).mean_logits);
    at::Tensor s = contrast(record.logits, record.logits, cf, c_.gamma);
    terms.add("contrast_ce", at::cross_entropy_loss(s, batch.label), c_.loss_weight);
  }

 private:
  Config c_;
};

std::shared_ptr<sdk::Intervention> make(const sdk::BuildArgs& args) {
  Config c = sdk::bind<Config>(args.options);
  c.sites = select_sites(c.site_patterns, args.model.attention_sites, kName);
  c.levels = group_levels(c.sites, c.level_mode);
  if (!c.sweep.edits.empty() && (c.sweep.gammas.empty() || c.sweep.epsilons.empty()))
    throw std::invalid_argument(std::string(kName) + ": option 'sweep_edits' needs 'sweep_gammas' and 'sweep_epsilons' too");
  return std::make_shared<CounterfactualAttention>(std::move(c));
}

}  // namespace

void register_counterfactual_attention(sdk::Registrar& r) {
  sdk::ComponentDecl d;
  d.name = "counterfactual_attention";
  d.doc = "CausalMM: contrast factual logits with logits under counterfactual attention at the chosen sites";
  d.schema = sdk::schema_of<Config>();
  d.needs = {sdk::capability::kAttentionSites};
  r.add_intervention(std::move(d), make);
}

}  // namespace mmdebias::causalmm
