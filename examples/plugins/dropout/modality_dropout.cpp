// dropout.modality: modality dropout as an mmdebias intervention. During training, each sample, with
// probability p, loses one modality chosen uniformly among the droppable ones: that modality's features
// are zeroed before fusion, so the model cannot lean on its favourite modality alone (the classic
// remedy for modality imbalance; Neverova et al., ModDrop, 2015). Evaluation is left untouched.
//
// It shows the parts of the SDK a plugin usually needs: options declared once (sdk::OptionBinder), two hooks
// sharing a per-step decision, a named RNG stream (reproducible and checkpointed by the host), and a metric.
#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "mmdebias/sdk/sdk.hpp"

namespace {

using namespace mmdebias::sdk;

// Each option once: name, field, default, doc and range. schema_of() gives the host its schema (validation,
// `mmdebias describe`); bind() gives the factory the filled struct.
struct DropoutOptions {
  double p = 0;
  std::vector<std::string> modalities;

  static void declare(OptionBinder<DropoutOptions>& b) {
    b.option("p", &DropoutOptions::p, 0.3, "probability that a training sample loses one modality").range(0, 1);
    b.option("modalities", &DropoutOptions::modalities, {}, "modalities that may be dropped (empty = all); at least two must exist");
  }
};

class ModalityDropout : public Intervention {
 public:
  ModalityDropout(double p, std::vector<std::string> droppable) : p_(p), droppable_(std::move(droppable)) {}

  uint32_t hooks() const override { return kOnBatch | kOnFeatures; }

  // Hook 1 runs once per training step, before the encoders: decide here which modality each sample
  // loses, so that every modality's on_features call sees the same decision.
  void on_batch(Batch& batch, Context& ctx) override {
    int64_t b = batch.size();
    // The host's stream: the same draws on resume and for the same seed, whatever other components do.
    at::Generator& gen = ctx.rng("drop");
    at::Tensor hit = at::rand({b}, gen, at::kFloat) < p_;
    at::Tensor which = at::randint(static_cast<int64_t>(droppable_.size()), {b}, gen, at::kLong);
    choice_ = at::where(hit, which, at::full_like(which, -1));  // [B]: index into droppable_, -1 = keep all
    ctx.metric("dropped", b > 0 ? hit.to(at::kDouble).mean().item<double>() : 0.0);
  }

  // Hook 2: zero this modality's features where it was chosen. Features may be [B, D] or [B, T, D].
  at::Tensor on_features(const std::string& modality, const at::Tensor& features, Context& ctx) override {
    if (ctx.phase() != Phase::Train || !choice_.defined() || choice_.size(0) != features.size(0)) return features;
    auto it = std::find(droppable_.begin(), droppable_.end(), modality);
    if (it == droppable_.end()) return features;
    int64_t index = it - droppable_.begin();
    std::vector<int64_t> shape(features.dim(), 1);
    shape[0] = features.size(0);
    at::Tensor keep = (choice_ != index).to(features.scalar_type()).to(features.device()).view(shape);
    return features * keep;  // a product, not an in-place write: the gradient to the dropped rows is zero
  }

 private:
  double p_;
  std::vector<std::string> droppable_;
  // This step's decision; not state worth saving (redrawn every step). Outside training it is ignored,
  // so a stale one cannot leak into evaluation or a scorer's fitting pass.
  at::Tensor choice_;
};

void register_components(Registrar& r) {
  ComponentDecl decl{"modality", "modality dropout: each training sample loses one modality's features with probability p",
                     schema_of<DropoutOptions>(), {}, {}};
  r.add_intervention(std::move(decl), [](const BuildArgs& a) {
    const DropoutOptions o = bind<DropoutOptions>(a.options);
    std::vector<std::string> droppable = o.modalities;
    std::vector<std::string> all;
    for (const auto& m : a.model.inputs) all.push_back(m.name);
    for (const auto& m : droppable)
      if (std::find(all.begin(), all.end(), m) == all.end())
        throw std::invalid_argument("dropout.modality: modality '" + m + "' is not in the dataset");
    if (droppable.empty()) droppable = all;
    // Dropping the only modality would train on nothing: refuse rather than silently doing so.
    if (all.size() < 2) throw std::invalid_argument("dropout.modality needs a dataset with at least two modalities");
    return std::make_shared<ModalityDropout>(o.p, droppable);
  });
}

}  // namespace

MMDEBIAS_PLUGIN("dropout", "0.1.0", "modality dropout (an out-of-tree example plugin)", register_components)
