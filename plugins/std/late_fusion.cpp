// std.late: late fusion, one linear head per modality and the fused logits their sum (per-modality logits from
// those heads, or, with modality_heads: separate, from classifiers of their own).
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

#include "common.hpp"
#include "modality_heads.hpp"
#include "register.hpp"

namespace mmdebias::std_plugin {
namespace {

const char* kName = "std.late";

/// The options of std.late.
struct Config {
  ModalityHeads modality_heads = ModalityHeads::Shared;

  static void declare(sdk::OptionBinder<Config>& b) { declare_modality_heads(b, &Config::modality_heads); }
};

/// fused = [z_1; ...; z_M]; head(fused) = sum_m h_m(slice_m(fused)). Shared modality heads are the summands,
/// modality_head(m, z) = h_m(z), so the per-modality logits sum exactly to the fused logits; separate ones are
/// fc_m(z), parameters of their own.
class LateFusion : public sdk::Fusion {
 public:
  LateFusion(std::vector<FusionInput> inputs, int64_t classes, ModalityHeads heads) : inputs_(std::move(inputs)) {
    for (const auto& in : inputs_) {
      offsets_.push_back(dim_);
      dim_ += in.spec.dim;
      heads_.push_back(register_module(module_name("head", in.name), torch::nn::Linear(in.spec.dim, classes)));
    }
    if (heads == ModalityHeads::Separate) separate_ = SeparateHeads(*this, inputs_, classes);
  }

  int64_t fused_dim() const override { return dim_; }

  at::Tensor fuse(const sdk::Features& features, const sdk::AttentionSites&) override {
    std::vector<at::Tensor> parts;
    for (const auto& in : inputs_) parts.push_back(feature_of(features, in, kName));
    return at::cat(parts, 1);
  }

  at::Tensor head(const at::Tensor& fused) override {
    if (fused.dim() != 2 || fused.size(1) != dim_)
      throw std::invalid_argument(std::string(kName) + ": head expects fused features [B, " + std::to_string(dim_) +
                                  "], got " + batch_shape_string(fused));
    at::Tensor logits;
    for (size_t i = 0; i < inputs_.size(); ++i) {
      // contiguous(): the slice then goes through exactly the computation modality_head does.
      at::Tensor part = heads_[i]->forward(fused.narrow(1, offsets_[i], inputs_[i].spec.dim).contiguous());
      logits = logits.defined() ? logits + part : part;
    }
    return logits;
  }

  bool has_modality_heads() const override { return true; }

  at::Tensor modality_head(const std::string& modality, const at::Tensor& z) override {
    const size_t i = modality_index(inputs_, modality, kName);
    check_feature(z, inputs_[i], kName);
    return separate_.active() ? separate_(i, z) : heads_[i]->forward(z);
  }

 private:
  std::vector<FusionInput> inputs_;
  std::vector<int64_t> offsets_;
  int64_t dim_ = 0;
  std::vector<torch::nn::Linear> heads_;
  SeparateHeads separate_;
};

std::shared_ptr<sdk::Fusion> make(const sdk::BuildArgs& args) {
  auto inputs = fusion_inputs(args, kName);
  require_pooled(inputs, kName);
  const Config c = sdk::bind<Config>(args.options);
  return std::make_shared<LateFusion>(std::move(inputs), args.model.num_classes, c.modality_heads);
}

}  // namespace

void register_late_fusion(sdk::Registrar& r) {
  sdk::ComponentDecl d;
  d.name = "late";
  d.doc = "Late fusion: one linear head per modality, fused logits = their sum; per-modality logits from those heads, or "
          "from classifiers of their own (modality_heads: separate)";
  d.schema = sdk::schema_of<Config>();
  d.provides = {sdk::capability::kModalityLogits};
  r.add_fusion(std::move(d), make);
}

}  // namespace mmdebias::std_plugin
