// Internal to the causalmm plugin: the contrastive combination of factual and counterfactual logits and the
// adaptive plausibility cut-off (header-only so the tests compile exactly this code). Both are computed in fp32 under
// every precision (sdk/precision.hpp): the contrast multiplies differences of nearly equal logits by γ.
#pragma once

#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include <ATen/ATen.h>

#include "mmdebias/sdk/precision.hpp"

namespace mmdebias::causalmm {

/// How far below a row's lowest kept score a cut position is put: exp(-1e4) is 0 in float32 and float64,
/// so probabilities and rankings are those of -inf, while losses, energies and metrics stay finite.
inline constexpr double kCutOffset = 1e4;

/// The counterfactual contrast s = l + γ·Σ_levels (l_f − l̄_cf,level).
/// l: the logits reaching this intervention; l_f: the factual pass's logits; cf: one mean counterfactual
/// logit tensor per intervened level. With l = l_f this is (1 + nγ)·l − γ·Σ l̄_cf.
inline at::Tensor contrast(const at::Tensor& l, const at::Tensor& l_f, const std::vector<at::Tensor>& cf, double gamma) {
  sdk::FullPrecision full;
  at::Tensor effect = at::zeros_like(sdk::fp32(l));
  for (const auto& c : cf) effect = effect + (sdk::fp32(l_f) - sdk::fp32(c));
  return sdk::fp32(l) + gamma * effect;
}

/// The adaptive plausibility constraint: keeps the classes whose probability under l is at least
/// epsilon · (the row's largest probability), i.e. l_c >= max l + log ε; always keeps the arg-max.
inline at::Tensor plausible(const at::Tensor& l, double epsilon) {
  if (epsilon <= 0.0) return at::ones(l.sizes(), l.options().dtype(at::kBool));
  sdk::FullPrecision full;
  const at::Tensor l32 = sdk::fp32(l);
  return l32 >= l32.amax(-1, /*keepdim=*/true) + std::log(epsilon);
}

/// Scores s with every class outside keep set to the row's lowest kept score minus kCutOffset.
inline at::Tensor cut(const at::Tensor& s, const at::Tensor& keep) {
  const at::Tensor above = at::full({}, std::numeric_limits<double>::infinity(), s.options());
  const at::Tensor lowest_kept = at::where(keep, s, above).amin(-1, /*keepdim=*/true);
  return at::where(keep, s, lowest_kept - kCutOffset);
}

/// The prediction of CausalMM: contrast(l, l_f, cf, γ) cut where l's probability is below ε · its maximum.
inline at::Tensor contrastive_prediction(const at::Tensor& l, const at::Tensor& l_f, const std::vector<at::Tensor>& cf,
                                         double gamma, double epsilon) {
  return cut(contrast(l, l_f, cf, gamma), plausible(l, epsilon));
}

}  // namespace mmdebias::causalmm
