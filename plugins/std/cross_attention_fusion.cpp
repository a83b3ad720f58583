// std.cross_attention: a transformer over all modalities' features as one sequence, with a learned CLS token.
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "attention_block.hpp"
#include "common.hpp"
#include "register.hpp"

namespace mmdebias::std_plugin {
namespace {

const char* kName = "std.cross_attention";

struct CrossConfig : TransformerShape {
  std::string pool;
  // From the model, after binding.
  int64_t classes = 0;
  std::string site_prefix;  // "<instance path>.layer"

  static void declare(sdk::OptionBinder<CrossConfig>& b) {
    declare_transformer_options(b, 1, "Model width d (projections, layers, fused features)",
                                "Dropout probability on attention weights and residual branches");
    b.choice("pool", &CrossConfig::pool, "cls", {"cls", "mean"},
             "Fused features: the CLS token's output, or the mean over modality positions");
  }
};

/// Each modality is projected to width d (pooled [B, D] becomes one token, tokens [B, T, D] stay a
/// sequence) and gets a learned modality embedding; the sequence is [CLS, modality 1 ..., modality k ...].
/// After the transformer layers and a final layer norm, the fused features are the CLS output (pool=cls)
/// or the mean over the modality positions (pool=mean).
class CrossAttentionFusion : public sdk::Fusion {
 public:
  CrossAttentionFusion(std::vector<FusionInput> inputs, CrossConfig c) : inputs_(std::move(inputs)), c_(std::move(c)) {
    for (const auto& in : inputs_)
      proj_.push_back(register_module(module_name("proj", in.name), torch::nn::Linear(in.spec.dim, c_.dim)));
    modality_embed_ = register_parameter("modality_embed", at::randn({static_cast<int64_t>(inputs_.size()), c_.dim}) * 0.02);
    cls_ = register_parameter("cls", at::randn({1, 1, c_.dim}) * 0.02);
    for (int64_t i = 0; i < c_.layers; ++i)
      blocks_.push_back(register_module("layer" + std::to_string(i),
                                        std::make_shared<TransformerBlock>(c_.dim, c_.heads, c_.ff_dim, c_.dropout)));
    norm_ = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c_.dim})));
    head_ = register_module("head", torch::nn::Linear(c_.dim, c_.classes));
  }

  int64_t fused_dim() const override { return c_.dim; }

  std::vector<sdk::AttentionSiteInfo> attention_sites() const override {
    std::vector<sdk::AttentionSiteInfo> sites;
    for (int64_t i = 0; i < c_.layers; ++i) sites.push_back({c_.site_prefix + std::to_string(i), c_.heads, false});
    return sites;
  }

  at::Tensor fuse(const sdk::Features& features, const sdk::AttentionSites& sites) override {
    std::vector<at::Tensor> seq;
    for (size_t i = 0; i < inputs_.size(); ++i) {
      at::Tensor z = feature_of(features, inputs_[i], kName);
      if (!inputs_[i].spec.tokens) z = z.unsqueeze(1);  // a pooled modality is one token
      seq.push_back(proj_[i]->forward(z) + modality_embed_[static_cast<int64_t>(i)]);
    }
    const int64_t B = seq.front().size(0);
    seq.insert(seq.begin(), cls_.expand({B, 1, c_.dim}));
    at::Tensor x = at::cat(seq, 1);
    const int64_t T = x.size(1);
    // Every position is a valid key: the Features a fusion receives carry no padding information
    // (an encoder giving tokens [B, T, D] does not say which of its T positions were padding), so
    // positions cannot be masked here. std.tokens with pool=none zeroes its padding positions, so
    // they enter as the projection's bias plus the modality embedding, equal for every padding position.
    at::Tensor mask = attention_mask({}, T, /*causal=*/false, x.options());
    for (size_t i = 0; i < blocks_.size(); ++i)
      x = blocks_[i]->forward(x, mask, sites, c_.site_prefix + std::to_string(i));
    x = norm_->forward(x);
    return c_.pool == "cls" ? x.select(1, 0) : x.narrow(1, 1, T - 1).mean(1);
  }

  at::Tensor head(const at::Tensor& fused) override { return head_->forward(fused); }

 private:
  std::vector<FusionInput> inputs_;
  CrossConfig c_;
  std::vector<torch::nn::Linear> proj_;
  at::Tensor modality_embed_, cls_;
  std::vector<std::shared_ptr<TransformerBlock>> blocks_;
  torch::nn::LayerNorm norm_{nullptr};
  torch::nn::Linear head_{nullptr};
};

std::shared_ptr<sdk::Fusion> make(const sdk::BuildArgs& args) {
  auto inputs = fusion_inputs(args, kName);
  CrossConfig c = sdk::bind<CrossConfig>(args.options);
  check_transformer_shape(c, kName);
  c.classes = args.model.num_classes;
  c.site_prefix = (args.name.empty() ? std::string("fusion") : args.name) + ".layer";
  return std::make_shared<CrossAttentionFusion>(std::move(inputs), std::move(c));
}

}  // namespace

void register_cross_attention_fusion(sdk::Registrar& r) {
  sdk::ComponentDecl d;
  d.name = "cross_attention";
  d.doc = "Transformer over every modality's projected features (plus a CLS token); one attention site per layer";
  d.schema = sdk::schema_of<CrossConfig>();
  d.provides = {sdk::capability::kAttentionSites};
  r.add_fusion(std::move(d), make);
}

}  // namespace mmdebias::std_plugin
