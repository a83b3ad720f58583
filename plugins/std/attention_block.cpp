// Self-attention with explicit weights (so attention sites can replace them) and the transformer block built on it.
#include "attention_block.hpp"

#include <stdexcept>

#include <cmath>
#include <limits>

#include <torch/nn/functional/activation.h>

#include "mmdebias/sdk/precision.hpp"

namespace mmdebias::std_plugin {

SelfAttention::SelfAttention(int64_t dim, int64_t heads, double dropout) : dim_(dim), heads_(heads), dropout_(dropout) {
  qkv_ = register_module("qkv", torch::nn::Linear(dim, 3 * dim));
  out_ = register_module("out", torch::nn::Linear(dim, dim));
}

at::Tensor SelfAttention::forward(const at::Tensor& x, const at::Tensor& mask, const sdk::AttentionSites& sites,
                                  const std::string& site) {
  const int64_t T = x.size(1), dh = dim_ / heads_;
  // [B, T, 3, heads, dh] -> three [B, heads, T, dh] (B as -1: a traced export serves any batch size).
  auto qkv = qkv_->forward(x).view({-1, T, 3, heads_, dh}).permute({2, 0, 3, 1, 4});
  at::Tensor q = qkv[0], k = qkv[1], v = qkv[2];

  // The softmax in fp32 under every precision: bf16 weights would keep 8 significant bits, and the sites' edits
  // renormalise them. The matmuls before and after stay in the run's precision.
  const at::Tensor raw = at::matmul(q, k.transpose(-2, -1));
  at::Tensor weights;
  {
    sdk::FullPrecision full;
    at::Tensor scores = sdk::fp32(raw) / std::sqrt(static_cast<double>(dh));  // [B, h, T, T]
    scores = scores.masked_fill(mask.logical_not(), -std::numeric_limits<double>::infinity());
    // A row with no allowed key would be all -inf and softmax would give NaN: give it finite scores,
    // then zero every disallowed weight, so such a row is all zeros (and so is its gradient).
    at::Tensor row_any = mask.any(-1, /*keepdim=*/true);
    scores = at::where(row_any, scores, at::zeros({}, scores.options()));
    weights = at::softmax(scores, -1).masked_fill(mask.logical_not(), 0.0);
  }

  weights = sites.apply(site, weights, mask);
  at::Tensor attended = at::matmul(at::dropout(weights, dropout_, is_training()), v);  // [B, h, T, dh]
  return out_->forward(attended.transpose(1, 2).reshape({-1, T, dim_}));
}

TransformerBlock::TransformerBlock(int64_t dim, int64_t heads, int64_t ff_dim, double dropout) : dropout_(dropout) {
  norm1_ = register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  attn_ = register_module("attn", std::make_shared<SelfAttention>(dim, heads, dropout));
  norm2_ = register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  ff1_ = register_module("ff1", torch::nn::Linear(dim, ff_dim));
  ff2_ = register_module("ff2", torch::nn::Linear(ff_dim, dim));
}

at::Tensor TransformerBlock::forward(const at::Tensor& x, const at::Tensor& mask, const sdk::AttentionSites& sites,
                                     const std::string& site) {
  const bool train = is_training();
  at::Tensor h = x + at::dropout(attn_->forward(norm1_->forward(x), mask, sites, site), dropout_, train);
  at::Tensor ff = ff2_->forward(at::dropout(at::gelu(ff1_->forward(norm2_->forward(h))), dropout_, train));
  return h + at::dropout(ff, dropout_, train);
}

at::Tensor attention_mask(const at::Tensor& key_valid, int64_t length, bool causal, const at::TensorOptions& device) {
  auto bool_opts = device.dtype(at::kBool);
  at::Tensor mask = key_valid.defined() ? key_valid.to(at::kBool).view({-1, 1, 1, length})
                                        : at::ones({1, 1, 1, length}, bool_opts);
  if (causal) mask = mask.logical_and(at::ones({length, length}, bool_opts).tril().view({1, 1, length, length}));
  return mask;
}

void check_transformer_shape(const TransformerShape& t, const std::string& who) {
  if (t.dim % t.heads != 0)
    throw std::invalid_argument(who + ": dim " + std::to_string(t.dim) + " is not divisible by heads " + std::to_string(t.heads) +
                                "; choose heads that divide dim");
}

}  // namespace mmdebias::std_plugin
