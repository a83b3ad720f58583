// Internal to the a2d plugin (also included by its tests): the discrepancies between two modalities'
// predicted distributions, the ground-truth column removal and the normalised entropy, as pure functions.
//
// Not shared with plugins/mcr/divergence.hpp, on purpose: MCR's Jensen-Shannon divergence J between softmaxed
// logits (clamped at 1e-20, KL summed per row and averaged) is none of these A2D discrepancies between
// probability rows (Hellinger with a 1e-6 clamp, mean L1 / L2, 1-Wasserstein on the class line), and each
// reproduces its own paper's release bitwise (tests/methods/{a2d,mcr}); there is no common function to hoist.
//
// Every function here computes in fp32 (or the inputs' fp64) under every run.precision (sdk/precision.hpp): NP-Mix's
// outlier logits come from the modality heads under autocast, and a bf16 softmax, square root or entropy keeps only
// 8 significant bits of a discrepancy that the loss pushes on.
#pragma once

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "mmdebias/sdk/bind.hpp"
#include "mmdebias/sdk/precision.hpp"

namespace mmdebias::a2d {

/// The discrepancies offered between two rows of probabilities.
enum class Discrepancy { Hellinger, L1, L2, Wasserstein };

/// The option spelling of each discrepancy, in the order `describe` shows them.
inline const sdk::ChoiceTable<Discrepancy>& discrepancy_table() {
  static const sdk::ChoiceTable<Discrepancy> table = {{"hellinger", Discrepancy::Hellinger},
                                                      {"l1", Discrepancy::L1},
                                                      {"l2", Discrepancy::L2},
                                                      {"wasserstein", Discrepancy::Wasserstein}};
  return table;
}

/// The enum value named by an option ("hellinger", "l1", "l2", "wasserstein").
inline Discrepancy discrepancy_named(const std::string& name) {
  for (const auto& [spelling, kind] : discrepancy_table())
    if (spelling == name) return kind;
  throw std::invalid_argument("unknown discrepancy '" + name + "' (choose hellinger, l1, l2 or wasserstein)");
}

/// The option choices, in the order `describe` shows them.
inline std::vector<std::string> discrepancy_choices() {
  std::vector<std::string> names;
  for (const auto& entry : discrepancy_table()) names.push_back(entry.first);
  return names;
}

/// sqrt(x) for x >= 0 whose gradient at x = 0 is 0 instead of inf * 0 = NaN (two identical rows give 0).
inline at::Tensor safe_sqrt(const at::Tensor& x) {
  at::Tensor positive = x > 0;
  return at::where(positive, at::sqrt(at::where(positive, x, at::ones_like(x))), at::zeros_like(x));
}

/// Logits [B, C] without each row's ground-truth column: [B, C - 1], other columns in their order. A gather of
/// the kept columns (j for j < y, j + 1 from y on; labels in [0, C), as the task loss requires): the same values and
/// gradients as selecting them with a mask, without masked_select's read of the mask's count back to the host.
inline at::Tensor drop_ground_truth(const at::Tensor& logits, const at::Tensor& labels) {
  const int64_t b = logits.size(0), c = logits.size(1);
  const at::Tensor j = at::arange(c - 1, logits.options().dtype(at::kLong)).view({1, c - 1});
  const at::Tensor columns = j + j.ge(labels.to(at::kLong).view({b, 1})).to(at::kLong);
  return logits.gather(1, columns);
}

/// Discrepancy between probability rows p, q [B, K], reduced to a scalar as the release does:
///   hellinger   mean_b sqrt(sum_k (sqrt p - sqrt q)^2) / sqrt 2, p and q clamped at 1e-6 first;
///   l1          mean over all B*K entries of |p - q|           (torch.nn.L1Loss);
///   l2          mean over all B*K entries of (p - q)^2         (torch.nn.MSELoss);
///   wasserstein mean_b sum_{k<K-1} |F_p(k) - F_q(k)|, the 1-Wasserstein distance between p and q on the
///               class index line 0..K-1 with unit spacing (F the cumulative sum).
inline at::Tensor discrepancy(Discrepancy kind, const at::Tensor& p_in, const at::Tensor& q_in) {
  sdk::FullPrecision full;
  const at::Tensor p = sdk::fp32(p_in), q = sdk::fp32(q_in);
  switch (kind) {
    case Discrepancy::Hellinger: {
      at::Tensor d = at::sqrt(p.clamp_min(1e-6)) - at::sqrt(q.clamp_min(1e-6));
      return (safe_sqrt((d * d).sum(1)) / std::sqrt(2.0)).mean();
    }
    case Discrepancy::L1: return (p - q).abs().mean();
    case Discrepancy::L2: return (p - q).pow(2).mean();
    case Discrepancy::Wasserstein: {
      const int64_t k = p.size(1);
      if (k < 2) return (p - q).sum() * 0.0;  // one class: both rows are 1, the distance is 0
      at::Tensor gap = (p.cumsum(1) - q.cumsum(1)).narrow(1, 0, k - 1);
      return gap.abs().sum(1).mean();
    }
  }
  throw std::logic_error("unreachable discrepancy kind");
}

/// softmax(logits) over classes (dim 1) [B, C], in fp32 under every precision.
inline at::Tensor probabilities(const at::Tensor& logits) {
  sdk::FullPrecision full;
  return at::softmax(sdk::fp32(logits), 1);
}

/// The mean discrepancy over every unordered pair of modalities' probability rows (one pair for two).
inline at::Tensor mean_pairwise_discrepancy(Discrepancy kind, const std::vector<at::Tensor>& probs) {
  if (probs.size() < 2) throw std::invalid_argument("a discrepancy between modalities needs at least two modalities");
  at::Tensor total;
  int64_t pairs = 0;
  for (size_t i = 0; i < probs.size(); ++i)
    for (size_t j = i + 1; j < probs.size(); ++j) {
      at::Tensor d = discrepancy(kind, probs[i], probs[j]);
      total = total.defined() ? total + d : d;
      ++pairs;
    }
  return total / static_cast<double>(pairs);
}

/// Entropy of softmax(logits) per row divided by log C (1 for uniform rows), with the release's
/// log(p + 1e-9) guard: [B].
inline at::Tensor normalized_entropy(const at::Tensor& logits) {
  sdk::FullPrecision full;
  at::Tensor p = probabilities(logits);
  at::Tensor h = -(p * at::log(p + 1e-9)).sum(1);
  return h / std::log(static_cast<double>(logits.size(1)));
}

}  // namespace mmdebias::a2d
