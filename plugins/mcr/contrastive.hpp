// The supervised contrastive term: NT-Xent over every modality's features with same-label positives.
#pragma once

#include <vector>

#include <ATen/ATen.h>

#include "mmdebias/sdk/precision.hpp"

namespace mmdebias::mcr {

/// NT-Xent with label positives over the embeddings of all modalities stacked along the batch
/// ([z_1; ...; z_M], each [B, ...] flattened to [B, D] and L2-normalised; sample i of every modality
/// carries label i). With s_ij = cos(e_i, e_j) / τ, for every ordered positive pair (i, j), i ≠ j,
/// y_i = y_j: ℓ_ij = -log(e^{s_ij} / (e^{s_ij} + Σ_{k: y_k ≠ y_i} e^{s_ik})); the loss is the mean of
/// ℓ_ij over all positive pairs (0 when there are none). This is pytorch-metric-learning's NTXentLoss
/// as the release calls it (positives share a label; each pair is contrasted with the anchor's negatives).
/// Computed in fp32 under every precision (the features may be bf16): cosines near ±1 / τ and the log-sum-exp
/// over them need more than bf16's 8 significant bits.
inline at::Tensor supervised_nt_xent(const std::vector<at::Tensor>& embeddings, const at::Tensor& labels, double tau) {
  sdk::FullPrecision full;
  std::vector<at::Tensor> normed;
  std::vector<at::Tensor> label_parts;
  for (const auto& z : embeddings) {
    at::Tensor flat = sdk::fp32(z).reshape({z.size(0), -1});
    normed.push_back(flat / flat.norm(2, 1, true).clamp_min(1e-12));  // F.normalize(p=2, eps=1e-12)
    label_parts.push_back(labels);
  }
  const at::Tensor e = at::cat(normed, 0);
  const at::Tensor y = at::cat(label_parts, 0);
  const int64_t n = e.size(0);
  const at::Tensor s = at::matmul(e, e.t()) / tau;
  const at::Tensor same = y.unsqueeze(1).eq(y.unsqueeze(0));
  const at::Tensor positive = same.logical_and(at::eye(n, y.options().dtype(at::kBool)).logical_not());
  const at::Tensor negative = same.logical_not();
  if (positive.sum().item<int64_t>() == 0) return e.sum() * 0.0;
  // Shift each row by its (detached) maximum: the ratio is unchanged and no exponential overflows.
  const at::Tensor shift = std::get<0>(s.detach().max(1, true));
  const at::Tensor shifted = s - shift;
  const at::Tensor exp_s = shifted.exp();
  const at::Tensor negatives = (exp_s * negative.to(exp_s.scalar_type())).sum(1, true);  // [n, 1]
  const at::Tensor per_pair = -shifted + (exp_s + negatives).log();                       // ℓ_ij for every (i, j)
  return per_pair.masked_select(positive).mean();
}

}  // namespace mmdebias::mcr
