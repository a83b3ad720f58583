// Autograd helpers interventions need: gradient scaling and stop-gradient.
#pragma once

#include <ATen/core/Tensor.h>

namespace mmdebias::sdk {

/// Identity in the forward pass; multiplies the gradient flowing back through x by factor.
inline at::Tensor scale_gradient(const at::Tensor& x, double factor) {
  if (!x.requires_grad()) return x;
  // x.detach() + (x - x.detach()) * f is exactly x forward (the difference is exactly zero) and f * grad backward.
  at::Tensor frozen = x.detach();
  return frozen + (x - frozen) * factor;
}

/// Stop-gradient sg(x): the same values, no gradient flows back.
inline at::Tensor stop_gradient(const at::Tensor& x) { return x.detach(); }

}  // namespace mmdebias::sdk
