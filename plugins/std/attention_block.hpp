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
#include "mmdebias/sdk/options.hpp"

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

/// Width, depth and regularisation of a stack of TransformerBlocks.
struct TransformerShape {
  int64_t dim = 64;     ///< Model width.
  int64_t layers = 1;   ///< Number of blocks (one attention site each).
  int64_t heads = 4;    ///< Attention heads; divides dim.
  int64_t ff_dim = 128; ///< Feed-forward hidden width.
  double dropout = 0.0; ///< Dropout probability.
};

/// Declares dim, layers, heads, ff_dim and dropout, with the same meaning in every transformer component.
void add_transformer_options(sdk::Schema& schema, int64_t default_layers, const std::string& dim_doc,
                             const std::string& dropout_doc);

/// Reads what add_transformer_options declared; throws naming `who` when heads does not divide dim.
TransformerShape read_transformer_options(const sdk::Options& options, const std::string& who);

}  // namespace mmdebias::std_plugin
