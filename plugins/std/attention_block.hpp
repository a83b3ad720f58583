// Internal to the std plugin: a pre-norm transformer block whose attention weights pass through an
// attention site, shared by std.tokens and std.cross_attention.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "mmdebias/sdk/attention.hpp"
#include "mmdebias/sdk/bind.hpp"

namespace mmdebias::std_plugin {

/// Multi-head self-attention written out so its weights [B, heads, Q, K] go through AttentionSites::apply.
class SelfAttention : public torch::nn::Module {
 public:
  /// dim must be divisible by heads (the caller checks and reports it).
  SelfAttention(int64_t dim, int64_t heads, double dropout);

  /// x [B, T, dim]; mask: bool, broadcastable to [B, heads, T, T], true where attending is allowed
  /// (always defined). Rows with no allowed key give zero weights (and a zero output), never NaN.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask, const sdk::AttentionSites& sites,
                     const std::string& site);

 private:
  int64_t dim_, heads_;
  double dropout_;
  torch::nn::Linear qkv_{nullptr}, out_{nullptr};
};

/// Pre-norm transformer layer: x + Attn(LN(x)), then x + FF(LN(x)) with a GELU feed-forward.
class TransformerBlock : public torch::nn::Module {
 public:
  TransformerBlock(int64_t dim, int64_t heads, int64_t ff_dim, double dropout);

  /// See SelfAttention::forward; site is the full site name of this layer.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask, const sdk::AttentionSites& sites,
                     const std::string& site);

 private:
  double dropout_;
  torch::nn::LayerNorm norm1_{nullptr}, norm2_{nullptr};
  std::shared_ptr<SelfAttention> attn_;
  torch::nn::Linear ff1_{nullptr}, ff2_{nullptr};
};

/// Attention mask [B, 1, Q, K] (or broadcastable) from optional key validity [B, K] and a causal flag;
/// all true when neither restricts (shape [1, 1, 1, K]).
at::Tensor attention_mask(const at::Tensor& key_valid, int64_t length, bool causal, const at::TensorOptions& device);

/// Width, depth and regularisation of a stack of TransformerBlocks (options declared by declare_transformer_options).
struct TransformerShape {
  int64_t dim = 0;       ///< Model width.
  int64_t layers = 0;    ///< Number of blocks (one attention site each).
  int64_t heads = 0;     ///< Attention heads; divides dim.
  int64_t ff_dim = 0;    ///< Feed-forward hidden width.
  double dropout = 0.0;  ///< Dropout probability.
};

/// Declares dim, layers, heads, ff_dim and dropout of a Config deriving from TransformerShape, with the same
/// meaning in every transformer component.
template <class Config>
void declare_transformer_options(sdk::OptionBinder<Config>& b, int64_t default_layers, const std::string& dim_doc,
                                 const std::string& dropout_doc) {
  b.option("dim", &TransformerShape::dim, 64, dim_doc).at_least(1);
  b.option("layers", &TransformerShape::layers, default_layers,
           "Number of transformer layers (each one attention site <name>.layer<i>)")
      .range(1, 64);
  b.option("heads", &TransformerShape::heads, 4, "Attention heads per layer; must divide dim").at_least(1);
  b.option("ff_dim", &TransformerShape::ff_dim, 128, "Hidden width of each layer's feed-forward network").at_least(1);
  b.option("dropout", &TransformerShape::dropout, 0.0, dropout_doc).range(0.0, 1.0);
}

/// Throws naming `who` when heads does not divide dim.
void check_transformer_shape(const TransformerShape& shape, const std::string& who);

}  // namespace mmdebias::std_plugin
