// std.gated: the gated multimodal unit (GMU) generalised to k modalities.
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

#include "common.hpp"
#include "modality_heads.hpp"
#include "mmdebias/sdk/bind.hpp"
#include "mmdebias/sdk/precision.hpp"
#include "register.hpp"

namespace mmdebias::std_plugin {
namespace {

const char* kName = "std.gated";

/// The options of std.gated.
struct Config {
  int64_t dim = 0;
  ModalityHeads modality_heads = ModalityHeads::Shared;

  static void declare(sdk::OptionBinder<Config>& b) {
    b.option("dim", &Config::dim, 64, "Width d of each modality's projection and of the fused features").at_least(1);
    declare_modality_heads(b, &Config::modality_heads);
  }
};

/// h_m = tanh(W_m z_m) in R^d; gate logits G = W_g [z_1; ...; z_k] viewed as [B, k, d], g = softmax over k;
/// fused = sum_m g_m * h_m; logits = head(fused). The shared unimodal prediction of modality m is
/// head(tanh(W_m z_m)): its representation through the fused head, as if its gate were 1; a separate one is
/// fc_m(z_m), on the modality's features, parameters of its own.
class GatedFusion : public sdk::Fusion {
 public:
  GatedFusion(std::vector<FusionInput> inputs, int64_t dim, int64_t classes, ModalityHeads heads)
      : inputs_(std::move(inputs)), dim_(dim) {
    int64_t total = 0;
    for (const auto& in : inputs_) {
      total += in.spec.dim;
      proj_.push_back(register_module(module_name("proj", in.name), torch::nn::Linear(in.spec.dim, dim)));
    }
    gate_ = register_module("gate", torch::nn::Linear(total, dim * static_cast<int64_t>(inputs_.size())));
    head_ = register_module("head", torch::nn::Linear(dim, classes));
    if (heads == ModalityHeads::Separate) separate_ = SeparateHeads(*this, inputs_, classes);
  }

  int64_t fused_dim() const override { return dim_; }

  at::Tensor fuse(const sdk::Features& features, const sdk::AttentionSites&) override {
    std::vector<at::Tensor> z, h;
    for (size_t i = 0; i < inputs_.size(); ++i) {
      z.push_back(feature_of(features, inputs_[i], kName));
      h.push_back(at::tanh(proj_[i]->forward(z.back())));
    }
    const int64_t k = static_cast<int64_t>(inputs_.size());
    const at::Tensor gate_logits = gate_->forward(at::cat(z, 1)).view({-1, k, dim_});  // -1: a traced export serves any batch
    sdk::FullPrecision full;  // the gates' softmax and the gated sum in fp32 under every precision
    const at::Tensor g = at::softmax(sdk::fp32(gate_logits), 1);  // [B, k, d]
    return (g * sdk::fp32(at::stack(h, 1))).sum(1);
  }

  at::Tensor head(const at::Tensor& fused) override { return head_->forward(fused); }

  bool has_modality_heads() const override { return true; }

  at::Tensor modality_head(const std::string& modality, const at::Tensor& z) override {
    const size_t i = modality_index(inputs_, modality, kName);
    check_feature(z, inputs_[i], kName);
    if (separate_.active()) return separate_(i, z);
    return head_->forward(at::tanh(proj_[i]->forward(z)));
  }

 private:
  std::vector<FusionInput> inputs_;
  int64_t dim_;
  std::vector<torch::nn::Linear> proj_;
  torch::nn::Linear gate_{nullptr}, head_{nullptr};
  SeparateHeads separate_;
};

std::shared_ptr<sdk::Fusion> make(const sdk::BuildArgs& args) {
  auto inputs = fusion_inputs(args, kName);
  require_pooled(inputs, kName);
  const Config c = sdk::bind<Config>(args.options);
  return std::make_shared<GatedFusion>(std::move(inputs), c.dim, args.model.num_classes, c.modality_heads);
}

}  // namespace

void register_gated_fusion(sdk::Registrar& r) {
  sdk::ComponentDecl d;
  d.name = "gated";
  d.doc = "Gated multimodal unit for k modalities: softmax gates over tanh projections, then a linear head; per-modality "
          "logits through that head, or from classifiers of their own (modality_heads: separate)";
  d.schema = sdk::schema_of<Config>();
  d.provides = {sdk::capability::kModalityLogits};
  r.add_fusion(std::move(d), make);
}

}  // namespace mmdebias::std_plugin
