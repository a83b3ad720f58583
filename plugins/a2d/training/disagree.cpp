// a2d.disagree: Agree-to-Disagree (MultiOOD, NeurIPS 2024). The base loss averages the fused and the
// unimodal cross-entropies (the release's --use_single_pred), and the modalities' predictions are pushed
// apart on every class but the true one:
//   L = (CE(f, y) + sum_m CE(v_m, y)) / (M + 1) - a2d_ratio * mean_{m < n} D(softmax(v~_m), softmax(v~_n)),
// where v~ drops the ground-truth column of the unimodal logits v_m and D is the chosen discrepancy. v_m come from
// classifiers of their own (the fusion's independent modality heads, as in the release), so neither the unimodal CE
// nor the disagreement reaches the fused head.
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "common.hpp"
#include "discrepancy.hpp"
#include "register.hpp"

namespace mmdebias::a2d {
namespace {

const char* kName = "a2d.disagree";

/// The options of a2d.disagree.
struct Config {
  Discrepancy discrepancy = Discrepancy::Hellinger;
  double a2d_ratio = 0;
  bool unimodal_ce = false;

  static void declare(sdk::OptionBinder<Config>& b) {
    b.choice("discrepancy", &Config::discrepancy, Discrepancy::Hellinger, discrepancy_table(),
             "Discrepancy between two modalities' predictions (wasserstein: 1-Wasserstein on the class index line)");
    b.option("a2d_ratio", &Config::a2d_ratio, 0.5, "Weight of the disagreement term (the term is -discrepancy)").at_least(0.0);
    b.option("unimodal_ce", &Config::unimodal_ce, true,
             "Average the fused and every unimodal cross-entropy (release --use_single_pred); false keeps the fused one only");
  }
};

class Disagree : public sdk::Intervention {
 public:
  Disagree(Discrepancy kind, double ratio, bool unimodal_ce) : kind_(kind), ratio_(ratio), unimodal_ce_(unimodal_ce) {}

  uint32_t hooks() const override { return sdk::kLoss; }

  void loss(const sdk::ForwardRecord& record, const sdk::Batch& batch, const sdk::Estimates&, sdk::Model& model,
            sdk::LossTerms& terms, sdk::Context& ctx) override {
    const auto& modalities = model.modalities();
    std::vector<at::Tensor> logits;
    for (const auto& m : modalities) {
      auto it = record.modality_logits.find(m);
      if (it == record.modality_logits.end())
        throw std::invalid_argument(std::string(kName) + " needs per-modality logits, and the fusion gave none for '" + m + "'");
      logits.push_back(it->second);
    }
    if (logits.size() < 2) throw std::invalid_argument(std::string(kName) + " needs at least two modalities");
    const int64_t rows = batch.size(), classes = logits[0].size(1);
    const double share = 1.0 / static_cast<double>(modalities.size() + 1);
    if (unimodal_ce_) terms.scale_task_loss(share);
    if (rows == 0) return;  // a rank left without samples adds no term (terms are kept by name), never a NaN mean
    if (unimodal_ce_)
      for (size_t i = 0; i < modalities.size(); ++i)
        terms.add("ce_" + modalities[i], at::cross_entropy_loss(logits[i], batch.label), share);
    at::Tensor gap;
    if (classes < 3) {
      gap = logits[0].sum() * 0.0;  // with C = 2 one column is left: every modality predicts it with probability 1
    } else {
      std::vector<at::Tensor> probs;
      for (const auto& v : logits) probs.push_back(probabilities(drop_ground_truth(v, batch.label)));
      gap = mean_pairwise_discrepancy(kind_, probs);
    }
    ctx.metric("discrepancy", gap);
    terms.add("a2d", -gap, ratio_);
  }


 private:
  Discrepancy kind_;
  double ratio_;
  bool unimodal_ce_;
};

}  // namespace

void register_disagree(sdk::Registrar& r) {
  sdk::ComponentDecl d;
  d.name = "disagree";
  d.doc = "Agree-to-Disagree: unimodal predictions pushed apart on the non-ground-truth classes; base loss = mean of fused "
          "and unimodal cross-entropies";
  d.schema = sdk::schema_of<Config>();
  // MultiOOD's unimodal classifiers are their own (fc_m on z_m), so its unimodal terms never train the fused head.
  d.needs = {sdk::capability::kModalityLogits, sdk::capability::kIndependentModalityHeads};
  r.add_intervention(std::move(d), [](const sdk::BuildArgs& a) {
    if (a.model.num_classes < 2)
      throw std::invalid_argument(std::string(kName) + " needs at least 2 classes, got " + std::to_string(a.model.num_classes));
    const Config c = sdk::bind<Config>(a.options);
    return std::make_shared<Disagree>(c.discrepancy, c.a2d_ratio, c.unimodal_ce);
  });
}

}  // namespace mmdebias::a2d
