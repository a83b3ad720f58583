// The CEB term: an MLP decodes the features from the detached prediction; its MSE is the term.
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

#include "mmdebias/sdk/precision.hpp"

namespace mmdebias::mcr {

/// Linear(C, H, no bias) -> ReLU -> Linear(H, D, no bias): from logits to the concatenated features
/// (the release's fc_yz, whose output width is 2 x d_model for two modalities; here Σ_m D_m).
class CebDecoder : public torch::nn::Module {
 public:
  /// classes C, hidden width H, output width D.
  CebDecoder(int64_t classes, int64_t hidden, int64_t out)
      : first_(register_module("first", torch::nn::Linear(torch::nn::LinearOptions(classes, hidden).bias(false)))),
        second_(register_module("second", torch::nn::Linear(torch::nn::LinearOptions(hidden, out).bias(false)))) {}
  /// The decoded features [B, D] of logits [B, C].
  at::Tensor forward(const at::Tensor& logits) { return second_->forward(at::relu(first_->forward(logits))); }
  /// The first layer (tests set its weights).
  torch::nn::Linear& first() { return first_; }
  /// The second layer (tests set its weights).
  torch::nn::Linear& second() { return second_; }

 private:
  torch::nn::Linear first_, second_;
};

/// L_ceb / lib = MSE(decoder(sg logits), [z_1 | ... | z_M]), the mean over every element; the features
/// keep their graph (the encoders learn from it), the prediction does not. The decoder runs in the run's
/// precision like any layer; the squared error and its mean are taken in fp32.
inline at::Tensor ceb_loss(CebDecoder& decoder, const at::Tensor& logits, const at::Tensor& concatenated_features) {
  const at::Tensor decoded = decoder.forward(logits.detach());
  sdk::FullPrecision full;
  return at::mse_loss(sdk::fp32(decoded), sdk::fp32(concatenated_features));
}

}  // namespace mmdebias::mcr
