// CausalInfoMin's objectives as plain tensor functions: the coding rate R(Z), the dynamic κ and the
// contrastive term. Header-only so the method's tests can pin the formulas without going through a component.
// Each is computed in fp32 or float64 under every run.precision (sdk/precision.hpp) and returns fp32 for bf16/fp16
// inputs: the log-determinant, the cosines and the cross-entropy lose too much in bf16.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include <ATen/ATen.h>

#include "mmdebias/sdk/context.hpp"
#include "mmdebias/sdk/gradient.hpp"
#include "mmdebias/sdk/precision.hpp"

namespace mmdebias::infomin {

/// R = ½ logdet(I_p + p/(m ε²) G) for the Gram matrix G = ZᵀZ [p, p] of m samples (0 when m = 0).
inline at::Tensor coding_rate_from_gram(const at::Tensor& gram, double m, double eps_sq) {
  const int64_t p = gram.size(0);
  if (m <= 0) return (gram * 0).sum();  // no sample: nothing to code (keeps the graph and dtype)
  at::Tensor eye = at::eye(p, gram.options());
  // I + cG is symmetric positive definite, so a Cholesky factor gives the log-determinant stably.
  at::Tensor chol = at::linalg_cholesky(eye + gram * (static_cast<double>(p) / (m * eps_sq)));
  return chol.diagonal().log().sum();  // ½ · 2 Σ log L_ii
}

/// R(Z) = ½ logdet(I + p/(m ε²) ZᵀZ) of the rows of z [m, p] (Yu et al.'s coding rate with distortion ε).
/// Computed in float64 (and returned in z's dtype, fp32 for bf16/fp16 z): the log-determinant amplifies rounding by
/// the matrix's condition number, and float32 Gram sums differ with the order of the rows (one rank or two).
inline at::Tensor coding_rate(const at::Tensor& z, double eps_sq) {
  sdk::FullPrecision full;
  at::Tensor z64 = z.to(at::kDouble);
  const at::ScalarType out = at::promote_types(z.scalar_type(), at::kFloat);
  return coding_rate_from_gram(z64.t().mm(z64), static_cast<double>(z.size(0)), eps_sq).to(out);
}

/// R over every rank's rows of z: the value, and the gradient after the host averages gradients over ranks,
/// equal those of one process holding the whole batch. The Gram matrix is summed over ranks (the other
/// ranks' part enters as a constant) and the local gradient is scaled by the world size, because the
/// host divides the summed gradients by it.
inline at::Tensor distributed_coding_rate(const at::Tensor& z, double eps_sq, sdk::Context& ctx) {
  if (ctx.world_size() <= 1) return coding_rate(z, eps_sq);
  sdk::FullPrecision full;
  at::Tensor z64 = z.to(at::kDouble);
  at::Tensor local = z64.t().mm(z64);
  at::Tensor total = local.detach().clone();
  ctx.all_reduce_sum(total);
  at::Tensor count = at::full({1}, static_cast<double>(z.size(0)), at::TensorOptions().dtype(at::kDouble).device(z.device()));
  ctx.all_reduce_sum(count);
  at::Tensor gram = local + (total - local.detach());
  at::Tensor rate = coding_rate_from_gram(gram, count.item<double>(), eps_sq).to(at::promote_types(z.scalar_type(), at::kFloat));
  return sdk::scale_gradient(rate, static_cast<double>(ctx.world_size()));
}

/// κ = min(1, |coeff · CE_b / R_b|), a plain number (no gradient flows through it); 1 when R_b = 0.
inline double dynamic_kappa(double coeff, double bias_ce, double rate) {
  if (rate == 0.0) return 1.0;
  double k = std::abs(coeff * bias_ce / rate);
  return std::isfinite(k) ? std::min(1.0, k) : 1.0;
}

/// Rows scaled to unit L2 norm (a zero row stays zero), as torch.nn.functional.normalize with eps 1e-12.
inline at::Tensor unit_rows(const at::Tensor& x) { return x / x.norm(2, {1}, true).clamp_min(1e-12); }

/// Mean over rows of −log(e^{s⁺/τ} / (e^{s⁺/τ} + e^{s⁻/τ})) with s⁺ = cos(anchor, positive), s⁻ = cos(anchor,
/// negative): pulls the anchor towards its positive and away from its negative (0 rows give 0).
inline at::Tensor contrastive_loss(const at::Tensor& anchor, const at::Tensor& positive, const at::Tensor& negative,
                                   double temperature) {
  sdk::FullPrecision full;
  at::Tensor a = unit_rows(sdk::fp32(anchor));
  at::Tensor pos = (a * unit_rows(sdk::fp32(positive))).sum(1), neg = (a * unit_rows(sdk::fp32(negative))).sum(1);
  // −log(e^p / (e^p + e^n)) = log(1 + e^{n − p}) = softplus(n − p), without overflow.
  at::Tensor per_row = at::softplus((neg - pos) / temperature);
  return per_row.sum() / static_cast<double>(std::max<int64_t>(1, anchor.size(0)));
}

/// Mean cross-entropy of logits [B, C] against labels [B] (0 for an empty batch instead of NaN).
inline at::Tensor mean_cross_entropy(const at::Tensor& logits, const at::Tensor& labels) {
  sdk::FullPrecision full;
  if (logits.size(0) == 0) return (sdk::fp32(logits) * 0).sum();
  return at::cross_entropy_loss(sdk::fp32(logits), labels);
}

}  // namespace mmdebias::infomin
