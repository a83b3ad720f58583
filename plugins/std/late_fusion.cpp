// std.late: late fusion, one linear head per modality and the fused logits their sum.
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

#include "common.hpp"
#include "register.hpp"

namespace mmdebias::std_plugin {
namespace {

const char* kName = "std.late";

/// fused = [z_1; ...; z_M]; head(fused) = sum_m h_m(slice_m(fused)); modality_head(m, z) = h_m(z),
/// so the per-modality logits sum exactly to the fused logits.
class LateFusion : public sdk::Fusion {
 public:
  LateFusion(std::vector<FusionInput> inputs, int64_t classes) : inputs_(std::move(inputs)) {
    for (const auto& in : inputs_) {
      offsets_.push_back(dim_);
      dim_ += in.spec.dim;
      heads_.push_back(register_module(module_name("head", in.name), torch::nn::Linear(in.spec.dim, classes)));
    }
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
    return heads_[i]->forward(z);
  }

 private:
  std::vector<FusionInput> inputs_;
  std::vector<int64_t> offsets_;
  int64_t dim_ = 0;
  std::vector<torch::nn::Linear> heads_;
};

std::shared_ptr<sdk::Fusion> make(const sdk::BuildArgs& args) {
  auto inputs = fusion_inputs(args, kName);
  require_pooled(inputs, kName);
  return std::make_shared<LateFusion>(std::move(inputs), args.model.num_classes);
}

}  // namespace

void register_late_fusion(sdk::Registrar& r) {
  sdk::ComponentDecl d;
  d.name = "late";
  d.doc = "Late fusion: one linear head per modality, fused logits = the sum of the per-modality logits";
  d.provides = {sdk::capability::kModalityLogits};
  r.add_fusion(std::move(d), make);
}

}  // namespace mmdebias::std_plugin
