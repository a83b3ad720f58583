// std.tokens: a transformer over token ids (0 = padding) with learned positions and one attention site per layer.
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/normalization.h>

#include "attention_block.hpp"
#include "common.hpp"
#include "register.hpp"

namespace mmdebias::std_plugin {
namespace {

const char* kName = "std.tokens";

struct TokensConfig : TransformerShape {
  std::string pool;
  bool causal = false;
  // From the model, after binding.
  int64_t length = 0, vocab = 0;
  std::string site_prefix;  // "<instance path>.layer"

  static void declare(sdk::OptionBinder<TokensConfig>& b) {
    declare_transformer_options(b, 2, "Model width (token embedding and features)",
                                "Dropout probability on embeddings, attention weights and residual branches");
    b.choice("pool", &TokensConfig::pool, "mean", {"mean", "cls", "none"},
             "Pooling: mean over non-padding tokens, a learned CLS token, or none (tokens [B, T, D])");
    b.option("causal", &TokensConfig::causal, false, "Let each position attend only to itself and earlier positions");
  }
};

/// Token + position embeddings, pre-norm transformer layers, a final layer norm, then pooling.
/// With pool=cls a learned CLS token is appended after the last position (so that a causal mask
/// still lets it see every token) and its output is the feature.
class TokensEncoder : public sdk::Encoder {
 public:
  explicit TokensEncoder(TokensConfig c) : c_(std::move(c)) {
    const int64_t positions = c_.length + (c_.pool == "cls" ? 1 : 0);
    embed_ = register_module("embed", torch::nn::Embedding(c_.vocab, c_.dim));
    pos_ = register_parameter("pos", at::randn({positions, c_.dim}) * 0.02);
    if (c_.pool == "cls") cls_ = register_parameter("cls", at::randn({1, 1, c_.dim}) * 0.02);
    for (int64_t i = 0; i < c_.layers; ++i)
      blocks_.push_back(register_module("layer" + std::to_string(i),
                                        std::make_shared<TransformerBlock>(c_.dim, c_.heads, c_.ff_dim, c_.dropout)));
    norm_ = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c_.dim})));
  }

  sdk::FeatureSpec output() const override {
    return c_.pool == "none" ? sdk::FeatureSpec{c_.dim, true, c_.length} : sdk::FeatureSpec{c_.dim, false, 0};
  }

  std::vector<sdk::AttentionSiteInfo> attention_sites() const override {
    std::vector<sdk::AttentionSiteInfo> sites;
    for (int64_t i = 0; i < c_.layers; ++i) sites.push_back({c_.site_prefix + std::to_string(i), c_.heads, c_.causal});
    return sites;
  }

  at::Tensor encode(const at::Tensor& input, const sdk::AttentionSites& sites) override {
    check_input_shape(input, {c_.length}, kName);
    if (at::isFloatingType(input.scalar_type()) || input.scalar_type() == at::kBool)
      throw std::invalid_argument(std::string(kName) + " expects integer token ids, got a floating-point batch");
    at::Tensor ids = input.to(at::kLong);
    if (ids.numel() > 0) {
      // One small sync per batch: an id out of range would otherwise be an opaque (on CUDA, fatal) index error.
      auto [lo, hi] = at::aminmax(ids);
      if (lo.item<int64_t>() < 0 || hi.item<int64_t>() >= c_.vocab)
        throw std::invalid_argument(std::string(kName) + ": token ids must lie in [0, " + std::to_string(c_.vocab) +
                                    "), got ids from " + std::to_string(lo.item<int64_t>()) + " to " +
                                    std::to_string(hi.item<int64_t>()));
    }
    const int64_t B = ids.size(0);
    at::Tensor valid = ids.ne(0);  // [B, T]
    at::Tensor x = embed_->forward(ids);
    if (c_.pool == "cls") {
      x = at::cat({x, cls_.expand({B, 1, c_.dim})}, 1);
      valid = at::cat({valid, at::ones({B, 1}, valid.options())}, 1);
    }
    x = at::dropout(x + pos_.unsqueeze(0), c_.dropout, is_training());
    const int64_t T = x.size(1);
    at::Tensor mask = attention_mask(valid, T, c_.causal, x.options());
    for (size_t i = 0; i < blocks_.size(); ++i)
      x = blocks_[i]->forward(x, mask, sites, c_.site_prefix + std::to_string(i));
    x = norm_->forward(x);

    if (c_.pool == "cls") return x.select(1, T - 1);
    at::Tensor w = valid.unsqueeze(-1).to(x.scalar_type());  // [B, T, 1]
    // pool=none: padding positions are zeroed so that they carry nothing downstream.
    if (c_.pool == "none") return x * w;
    // Mean over non-padding tokens; an all-padding row gives zeros.
    return (x * w).sum(1) / w.sum(1).clamp_min(1.0);
  }

 private:
  TokensConfig c_;
  torch::nn::Embedding embed_{nullptr};
  at::Tensor pos_, cls_;
  std::vector<std::shared_ptr<TransformerBlock>> blocks_;
  torch::nn::LayerNorm norm_{nullptr};
};

std::shared_ptr<sdk::Encoder> make(const sdk::BuildArgs& args) {
  const auto& input = encoded_modality(args, kName);
  const std::string where = std::string(kName) + " (modality '" + input.name + "')";
  if (input.kind != sdk::InputKind::Tokens)
    throw std::invalid_argument(where + " needs token ids [T], but the modality is dense " + shape_string(input.shape) +
                                "; use std.mlp or std.conv2d for it");
  if (input.shape.size() != 1 || input.shape[0] < 1)
    throw std::invalid_argument(where + " needs token ids of shape [T] with T >= 1, got " + shape_string(input.shape));
  if (input.vocab_size < 1)
    throw std::invalid_argument(where + " needs the vocabulary size, but the dataset declares " +
                                std::to_string(input.vocab_size));
  TokensConfig c = sdk::bind<TokensConfig>(args.options);
  c.length = input.shape[0];
  c.vocab = input.vocab_size;
  check_transformer_shape(c, where);
  c.site_prefix = (args.name.empty() ? "encoders." + input.name : args.name) + ".layer";
  return std::make_shared<TokensEncoder>(std::move(c));
}

}  // namespace

void register_tokens_encoder(sdk::Registrar& r) {
  sdk::ComponentDecl d;
  d.name = "tokens";
  d.doc = "Transformer over token ids (0 = padding) with learned positions; one attention site per layer";
  d.schema = sdk::schema_of<TokensConfig>();
  d.provides = {sdk::capability::kAttentionSites};
  r.add_encoder(std::move(d), make);
}

}  // namespace mmdebias::std_plugin
