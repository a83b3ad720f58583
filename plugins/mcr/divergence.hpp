// The Jensen-Shannon divergence J that MCR uses to measure how much a perturbation moves the prediction.
//
// Not shared with plugins/a2d/training/discrepancy.hpp, on purpose: A2D's discrepancies between probability
// rows (Hellinger with a 1e-6 clamp, mean L1 / L2, 1-Wasserstein) are different functions from this J between
// softmaxed logits (clamped at 1e-20, KL summed per row and averaged), and each reproduces its own paper's
// release bitwise (tests/methods/{a2d,mcr}); there is no common function to hoist.
#pragma once

#include <ATen/ATen.h>

#include "mmdebias/sdk/precision.hpp"

namespace mmdebias::mcr {

/// Probabilities are clamped at this floor before logarithms (as in the release).
inline constexpr double kProbabilityFloor = 1e-20;

/// J(x, base) = ½ KL(σ(x) ‖ m) + ½ KL(σ(base) ‖ m), m = ½(σ(x) + σ(base)), over logits [N, C];
/// probabilities and m clamped to [1e-20, 1]; each KL summed over classes and averaged over the N rows
/// ("batchmean"). 0 <= J <= ln 2, symmetric, 0 for identical rows. Gradients flow into both arguments.
/// Computed in fp32 (or the inputs' fp64) under every precision: the permuted passes' logits come from the head
/// under autocast, and a bf16 softmax, log and KL sum would keep 8 significant bits of a J near 0.
inline at::Tensor jensen_shannon(const at::Tensor& logits_in, const at::Tensor& base_in) {
  TORCH_CHECK(logits_in.dim() == 2 && logits_in.sizes() == base_in.sizes(), "jensen_shannon expects two logit matrices [N, C] of one shape, got ",
              logits_in.sizes(), " and ", base_in.sizes());
  sdk::FullPrecision full;
  const at::Tensor logits = sdk::fp32(logits_in), base = sdk::fp32(base_in);
  const int64_t rows = logits.size(0);
  if (rows == 0) return (logits.sum() + base.sum()) * 0.0;  // no rows: nothing diverges (keeps the graph and dtype)
  at::Tensor p = at::softmax(logits, 1), q = at::softmax(base, 1);
  at::Tensor log_m = at::clamp(0.5 * (p + q), kProbabilityFloor, 1.0).log();
  p = at::clamp(p, kProbabilityFloor, 1.0);
  q = at::clamp(q, kProbabilityFloor, 1.0);
  at::Tensor kl_p = (p * (p.log() - log_m)).sum() / static_cast<double>(rows);
  at::Tensor kl_q = (q * (q.log() - log_m)).sum() / static_cast<double>(rows);
  return 0.5 * (kl_p + kl_q);
}

}  // namespace mmdebias::mcr
