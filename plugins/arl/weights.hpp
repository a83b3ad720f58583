// Internal to the arl plugin: the formulas from uncertainty to weights, as pure tensor functions.
#pragma once

#include <ATen/ATen.h>

namespace mmdebias::arl {

/// Û_m = max(U_m / Σ_k U_k, clamp) for U [M] >= 0; a zero sum (every modality certain) gives 1/M before the clamp.
inline at::Tensor normalize_uncertainty(const at::Tensor& u, double clamp) {
  const double sum = u.sum().item<double>();
  at::Tensor share = sum > 0 ? u / sum : at::full_like(u, 1.0 / static_cast<double>(u.numel()));
  return share.clamp_min(clamp);
}

/// w_m = (1/Û_m) / Σ_k (1/Û_k): the more certain modality gets the larger weight; Σ w = 1.
inline at::Tensor inverse_weights(const at::Tensor& normalized) {
  at::Tensor inv = normalized.reciprocal();
  return inv / inv.sum();
}

}  // namespace mmdebias::arl
