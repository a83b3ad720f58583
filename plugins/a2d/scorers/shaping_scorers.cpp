// a2d.react and a2d.ash: the fused features are shaped, then re-run through the fusion head (lent by the
// host through Context::model()) and scored by their energy logsumexp(head(x')) (T = 1), as MultiOOD does.
// Both ignore the logits they are given (they make their own) and, like the release, act on each modality's
// block of the fused features when `blocks: modality` (the default; the fused features must then be the
// concatenation of the modality features, as with std.concat and std.late) or on the whole vector.
//   react (Sun et al., 2021): x' = min(x, t_block), t_block the `percentile`-th percentile (numpy's linear
//         interpolation) of every value of that block over the training split (fitted).
//   ash   (ASH-B, Djurisic et al., 2023): per sample and block of n values with sum s, the
//         k = n - round(n * percentile / 100) largest values become s / k, the others 0 (no fit).
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "common.hpp"
#include "mmdebias/sdk/bind.hpp"
#include "mmdebias/sdk/precision.hpp"
#include "register.hpp"

namespace mmdebias::a2d {
namespace {

/// The widths of the blocks the shaping acts on: one per modality or the whole fused vector.
std::vector<int64_t> blocks_of(const sdk::ForwardRecord& record, sdk::Model& model, bool per_modality, const std::string& component) {
  if (!per_modality) return {fused_of(record, component).size(1)};
  require_concatenated(record, model.modalities(), component, "set blocks: whole");
  return block_widths(record, model.modalities(), component);
}

/// The energy score logsumexp(logits) (T = 1) of the head's logits, in fp32 under every precision (the head itself
/// runs in the run's precision, as in the forward).
at::Tensor energy(const at::Tensor& logits) {
  sdk::FullPrecision full;
  return at::logsumexp(sdk::fp32(logits), {1});
}

/// numpy.percentile(values, q) with its default linear interpolation, in float64.
double percentile(const at::Tensor& values, double q) {
  at::Tensor v = std::get<0>(values.reshape({-1}).to(at::kDouble).sort());
  const int64_t n = v.size(0);
  const double pos = q / 100.0 * static_cast<double>(n - 1);
  const int64_t lo = static_cast<int64_t>(std::floor(pos)), hi = std::min(lo + 1, n - 1);
  const double a = v[lo].item<double>(), b = v[hi].item<double>();
  return a + (pos - static_cast<double>(lo)) * (b - a);
}

class React : public sdk::Scorer {
 public:
  React(double q, bool per_modality, std::vector<int64_t> widths) : q_(q), per_modality_(per_modality), widths_(std::move(widths)) {
    thresholds_ = register_buffer("thresholds", at::empty({0}, at::kDouble));
  }

  bool needs_fit() const override { return true; }

  void fit(const sdk::ForwardRecord& record, const sdk::Batch& batch, sdk::Context& ctx) override {
    check_blocks(record, ctx);
    at::Tensor x = fused_of(record, kName).detach();
    if (batch.ood.defined()) x = x.index({batch.ood.to(x.device()).logical_not()});
    parts_.push_back(x.to(at::kFloat));
  }

  void finish_fit(sdk::Context& ctx) override {
    int64_t dim = 0;
    for (int64_t w : widths_) dim += w;
    at::Tensor mine = parts_.empty() ? at::empty({0, dim}, at::TensorOptions().device(ctx.device())) : at::cat(parts_);
    parts_.clear();
    at::Tensor x = ctx.all_gather(mine);
    if (x.size(0) == 0) throw std::runtime_error(std::string(kName) + ": the fitting pass saw no training sample");
    std::vector<double> t;
    int64_t offset = 0;
    for (int64_t w : widths_) {
      t.push_back(percentile(x.narrow(1, offset, w), q_));
      offset += w;
    }
    assign(thresholds_, at::tensor(t, at::kDouble));
  }

  at::Tensor score(const sdk::ForwardRecord& record, const at::Tensor&, sdk::Context& ctx) override {
    if (thresholds_.numel() != static_cast<int64_t>(widths_.size()))
      throw std::runtime_error(std::string(kName) + " has not been fitted (no training statistics)");
    check_blocks(record, ctx);
    at::Tensor x = fused_of(record, kName);
    std::vector<at::Tensor> parts;
    int64_t offset = 0;
    for (size_t i = 0; i < widths_.size(); ++i) {
      parts.push_back(x.narrow(1, offset, widths_[i]).clamp_max(thresholds_[static_cast<int64_t>(i)].item<double>()));
      offset += widths_[i];
    }
    return energy(lent_model(ctx, kName).fusion().head(at::cat(parts, 1)));
  }

 private:
  static constexpr const char* kName = "a2d.react";

  /// Throws unless the record's blocks are the ones this scorer was built for.
  void check_blocks(const sdk::ForwardRecord& record, sdk::Context& ctx) const {
    if (blocks_of(record, lent_model(ctx, kName), per_modality_, kName) != widths_)
      throw std::invalid_argument(std::string(kName) + ": the fused features' blocks differ from the model it was built for");
  }

  double q_;
  bool per_modality_;
  std::vector<int64_t> widths_;     // block widths, from the model spec
  at::Tensor thresholds_;           // fitted, saved: one per block
  std::vector<at::Tensor> parts_;   // this rank's features during the fitting pass
};

/// ASH-B on one block [B, n]: the k largest values of each row become the row's sum / k, the rest 0.
at::Tensor ash_binarize(const at::Tensor& block, double q) {
  const int64_t n = block.size(1);
  const int64_t k = std::max<int64_t>(1, n - static_cast<int64_t>(std::nearbyint(static_cast<double>(n) * q / 100.0)));
  at::Tensor fill = (block.sum(1, true) / static_cast<double>(k)).expand({block.size(0), k}).contiguous();
  at::Tensor index = std::get<1>(block.topk(k, 1));
  return at::zeros_like(block).scatter(1, index, fill);
}

class Ash : public sdk::Scorer {
 public:
  Ash(double q, bool per_modality) : q_(q), per_modality_(per_modality) {}

  at::Tensor score(const sdk::ForwardRecord& record, const at::Tensor&, sdk::Context& ctx) override {
    sdk::Model& model = lent_model(ctx, kName);
    std::vector<int64_t> widths = blocks_of(record, model, per_modality_, kName);
    at::Tensor x = fused_of(record, kName);
    std::vector<at::Tensor> parts;
    int64_t offset = 0;
    for (int64_t w : widths) {
      parts.push_back(ash_binarize(x.narrow(1, offset, w), q_));
      offset += w;
    }
    return energy(model.fusion().head(at::cat(parts, 1)));
  }

 private:
  static constexpr const char* kName = "a2d.ash";
  double q_;
  bool per_modality_;
};

/// The blocks a shaping acts on.
enum class Blocks { Modality, Whole };

/// The option spelling of each Blocks value, in the order `describe` shows them.
const sdk::ChoiceTable<Blocks> kBlocks = {{"modality", Blocks::Modality}, {"whole", Blocks::Whole}};

/// The options of a2d.react.
struct ReactConfig {
  double percentile = 0;
  Blocks blocks = Blocks::Modality;

  static void declare(sdk::OptionBinder<ReactConfig>& b) {
    b.option("percentile", &ReactConfig::percentile, 90.0, "Clip at this percentile of the training values of each block")
        .range(0.0, 100.0);
    b.choice("blocks", &ReactConfig::blocks, Blocks::Modality, kBlocks,
             "Clip each modality's block with its own threshold (as released) or the whole vector with one");
  }
};

/// The options of a2d.ash.
struct AshConfig {
  double percentile = 0;
  Blocks blocks = Blocks::Modality;

  static void declare(sdk::OptionBinder<AshConfig>& b) {
    b.option("percentile", &AshConfig::percentile, 90.0, "Prune this percentage of each block's values (90: keep the top 10%)")
        .range(0.0, 99.999);
    b.choice("blocks", &AshConfig::blocks, Blocks::Modality, kBlocks,
             "Shape each modality's block separately (as released) or the whole vector");
  }
};

}  // namespace

void register_shaping_scorers(sdk::Registrar& r) {
  {
    sdk::ComponentDecl d;
    d.name = "react";
    d.doc = "ReAct: fused features clipped at a training percentile, re-run through the fusion head, energy score";
    d.schema = sdk::schema_of<ReactConfig>();
    r.add_scorer(std::move(d), [](const sdk::BuildArgs& a) {
      const ReactConfig c = sdk::bind<ReactConfig>(a.options);
      const bool per_modality = c.blocks == Blocks::Modality;
      std::vector<int64_t> widths;
      if (per_modality) {
        for (const auto& m : a.model.inputs)
          if (auto it = a.model.features.find(m.name); it != a.model.features.end()) widths.push_back(it->second.dim);
      } else {
        widths.push_back(a.model.fused_dim);
      }
      return std::make_shared<React>(c.percentile, per_modality, std::move(widths));
    });
  }
  {
    sdk::ComponentDecl d;
    d.name = "ash";
    d.doc = "ASH-B: per block, the top values set to the block's mean over them and the rest pruned, re-run through the "
            "fusion head, energy score";
    d.schema = sdk::schema_of<AshConfig>();
    r.add_scorer(std::move(d), [](const sdk::BuildArgs& a) {
      const AshConfig c = sdk::bind<AshConfig>(a.options);
      return std::make_shared<Ash>(c.percentile, c.blocks == Blocks::Modality);
    });
  }
}

}  // namespace mmdebias::a2d
