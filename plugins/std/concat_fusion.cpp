// std.concat: concatenate pooled features in dataset order; one linear head, sliced per modality (or, with
// modality_heads: separate, one classifier per modality of its own).
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

const char* kName = "std.concat";

/// The options of std.concat.
struct Config {
  ModalityHeads modality_heads = ModalityHeads::Shared;

  static void declare(sdk::OptionBinder<Config>& b) { declare_modality_heads(b, &Config::modality_heads); }
};

/// fused = [z_1; ...; z_M], logits = W fused + b. Shared modality heads use W and b:
/// modality_head(m, z_m) = W[:, slice_m] z_m + b = W [0; z_m; 0] + b, so the per-modality logits
/// sum to the fused logits plus (M - 1) b. Separate ones are fc_m(z_m), parameters of their own.
class ConcatFusion : public sdk::Fusion {
 public:
  ConcatFusion(std::vector<FusionInput> inputs, int64_t classes, ModalityHeads heads) : inputs_(std::move(inputs)) {
    for (const auto& in : inputs_) {
      offsets_.push_back(dim_);
      dim_ += in.spec.dim;
    }
    head_ = register_module("head", torch::nn::Linear(dim_, classes));
    if (heads == ModalityHeads::Separate) separate_ = SeparateHeads(*this, inputs_, classes);
  }

  int64_t fused_dim() const override { return dim_; }

  at::Tensor fuse(const sdk::Features& features, const sdk::AttentionSites&) override {
    std::vector<at::Tensor> parts;
    for (const auto& in : inputs_) parts.push_back(feature_of(features, in, kName));
    return at::cat(parts, 1);
  }

  at::Tensor head(const at::Tensor& fused) override { return head_->forward(fused); }

  bool has_modality_heads() const override { return true; }

  at::Tensor modality_head(const std::string& modality, const at::Tensor& z) override {
    const size_t i = modality_index(inputs_, modality, kName);
    check_feature(z, inputs_[i], kName);
    if (separate_.active()) return separate_(i, z);
    at::Tensor w = head_->weight.narrow(1, offsets_[i], inputs_[i].spec.dim);
    return at::linear(z, w, head_->bias);
  }

 private:
  std::vector<FusionInput> inputs_;
  std::vector<int64_t> offsets_;
  int64_t dim_ = 0;
  torch::nn::Linear head_{nullptr};
  SeparateHeads separate_;
};

std::shared_ptr<sdk::Fusion> make(const sdk::BuildArgs& args) {
  auto inputs = fusion_inputs(args, kName);
  require_pooled(inputs, kName);
  const Config c = sdk::bind<Config>(args.options);
  return std::make_shared<ConcatFusion>(std::move(inputs), args.model.num_classes, c.modality_heads);
}

}  // namespace

void register_concat_fusion(sdk::Registrar& r) {
  sdk::ComponentDecl d;
  d.name = "concat";
  d.doc = "Concatenation of pooled features and one linear head; per-modality logits from the head's slices, or from "
          "classifiers of their own (modality_heads: separate)";
  d.schema = sdk::schema_of<Config>();
  d.provides = {sdk::capability::kModalityLogits};
  r.add_fusion(std::move(d), make);
}

}  // namespace mmdebias::std_plugin
