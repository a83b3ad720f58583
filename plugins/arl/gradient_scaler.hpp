// Internal to the arl plugin: an identity whose backward multiplies the gradient by a factor read at backward time.
#pragma once

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

namespace mmdebias::arl {

/// y = x in the forward pass; dL/dx = factor · dL/dy in the backward pass, where factor (a 0-d tensor) is read
/// when backward runs, not when forward runs. ARL needs this: the encoders' features are wrapped at hook 2
/// (on_features), before the head has produced the unimodal logits that decide this step's weights; the
/// loss hook writes the weights into the factor tensor in place, and backward then uses them.
/// sdk::scale_gradient takes its factor at forward time, so it cannot serve here. The factor is kept in the
/// node's saved_data (not save_for_backward), so writing it in place does not trip autograd's version check.
struct DeferredGradScale : public torch::autograd::Function<DeferredGradScale> {
  /// Returns x unchanged and remembers factor.
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& factor) {
    ctx->saved_data["factor"] = factor;
    return x;
  }
  /// Multiplies the incoming gradient by the factor's value now; the factor itself gets no gradient.
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    const at::Tensor factor = ctx->saved_data["factor"].toTensor();
    return {grads[0] * factor.to(grads[0].device()), at::Tensor()};
  }
};

/// Wraps x so that its gradient is multiplied by factor (0-d tensor, may be filled in place before backward).
inline at::Tensor scale_gradient_deferred(const at::Tensor& x, const at::Tensor& factor) {
  if (!x.requires_grad()) return x;
  return DeferredGradScale::apply(x, factor);
}

}  // namespace mmdebias::arl
