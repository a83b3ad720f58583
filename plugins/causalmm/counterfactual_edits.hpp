// Internal to the causalmm plugin: the four counterfactual edits of an attention map, as pure functions of
// the weights, the mask and the random draw (header-only so the tests compile exactly this code).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "mmdebias/sdk/bind.hpp"

namespace mmdebias::causalmm {

/// A counterfactual edit of attention weights [B, heads, Q, K].
enum class Edit { Random, Uniform, Reversed, Shuffle, ShuffleKeys };

/// The option spelling of each edit, in Edit order.
inline const sdk::ChoiceTable<Edit>& edit_table() {
  static const sdk::ChoiceTable<Edit> table = {{"random", Edit::Random},
                                               {"uniform", Edit::Uniform},
                                               {"reversed", Edit::Reversed},
                                               {"shuffle", Edit::Shuffle},
                                               {"shuffle_keys", Edit::ShuffleKeys}};
  return table;
}

/// The option spellings of the edits, in Edit order.
inline const std::vector<std::string>& edit_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& entry : edit_table()) out.push_back(entry.first);
    return out;
  }();
  return names;
}

/// The Edit an option value names; throws listing the valid names otherwise.
inline Edit parse_edit(const std::string& name) {
  for (const auto& [spelling, edit] : edit_table())
    if (spelling == name) return edit;
  std::string valid;
  for (const auto& spelling : edit_names()) valid += (valid.empty() ? "" : ", ") + spelling;
  throw std::invalid_argument("unknown counterfactual edit '" + name + "' (choose one of " + valid + ")");
}

/// True for the edits that draw random numbers (random, shuffle, shuffle_keys); the others give the same map every time.
inline bool edit_is_random(Edit edit) { return edit == Edit::Random || edit == Edit::Shuffle || edit == Edit::ShuffleKeys; }

/// The random numbers an edit consumes, drawn from gen as U[0, 1) in float64 on the CPU:
/// random -> one number per weight [B, heads, Q, K]; shuffle -> one priority per head and map entry [heads, Q, K]
/// (the head's permutation of its flattened Q×K map); shuffle_keys -> one priority per head and key [heads, K];
/// uniform, reversed -> an undefined tensor. A permutation is the argsort of its priorities (i.i.d. uniforms give
/// every permutation with equal probability, as torch.randperm does).
inline at::Tensor draw_for_edit(Edit edit, at::IntArrayRef weight_sizes, at::Generator& gen) {
  if (weight_sizes.size() != 4) throw std::invalid_argument("attention weights must be [B, heads, Q, K]");
  auto opts = at::TensorOptions().dtype(at::kDouble);
  if (edit == Edit::Random) return at::rand(weight_sizes, gen, opts);
  if (edit == Edit::Shuffle) return at::rand({weight_sizes[1], weight_sizes[2], weight_sizes[3]}, gen, opts);
  if (edit == Edit::ShuffleKeys) return at::rand({weight_sizes[1], weight_sizes[3]}, gen, opts);
  return {};
}

/// The boolean mask expanded to the weights' shape (all true when undefined).
inline at::Tensor full_mask(const at::Tensor& weights, const at::Tensor& mask) {
  if (!mask.defined()) return at::ones(weights.sizes(), weights.options().dtype(at::kBool));
  return mask.to(at::kBool).expand(weights.sizes());
}

/// Permutes the allowed entries of each row of `values` [..., N] among themselves: the allowed entries taken in
/// ascending `priority` order move onto the allowed positions in index order; masked entries come out 0. Without a
/// mask this is values.gather(-1, argsort(priority)). priority: float64, broadcastable to values.
inline at::Tensor permute_allowed(const at::Tensor& values, const at::Tensor& allowed, const at::Tensor& priority) {
  const int64_t N = values.size(-1);
  const at::Tensor u = priority.to(values.device()).expand(values.sizes());
  const at::Tensor index = at::arange(N, u.options()).expand(values.sizes());
  // Allowed entries sort before masked ones (priorities are < 1, indices < N), so the first |allowed| sources and
  // targets are the allowed ones; the masked rest moves zeros onto zeros.
  const at::Tensor source = at::argsort(at::where(allowed, u, u + 2.0), /*dim=*/-1, /*descending=*/false);
  const at::Tensor target = at::argsort(at::where(allowed, index, index + 2.0 * N), /*dim=*/-1, /*descending=*/false);
  const at::Tensor zero = at::zeros({}, values.options());
  return at::zeros_like(values).scatter(-1, target, at::where(allowed, values, zero).gather(-1, source));
}

/// The release's shuffle before renormalisation: per head h, the flattened Q×K map of every batch row permuted by
/// the head's one permutation argsort(u_h), restricted to the allowed entries (masked entries stay 0 and no weight
/// moves onto them). a: masked weights [B, H, Q, K]; m: bool mask of that shape; u: priorities [H, Q, K].
inline at::Tensor shuffle_map(const at::Tensor& a, const at::Tensor& m, const at::Tensor& u) {
  const int64_t B = a.size(0), H = a.size(1), Q = a.size(2), K = a.size(3);
  if (!u.defined() || u.dim() != 3 || u.size(0) != H || u.size(1) != Q || u.size(2) != K)
    throw std::invalid_argument("the shuffle edit needs priorities of shape [heads, Q, K]");
  const at::Tensor flat = permute_allowed(a.reshape({B, H, Q * K}), m.reshape({B, H, Q * K}),
                                          u.to(at::kDouble).reshape({1, H, Q * K}));
  return flat.view(a.sizes());
}

/// Replaces attention weights A [B, heads, Q, K] by a counterfactual map. Every edit keeps masked positions
/// at 0 and each row's total weight over the allowed positions (1 for a softmax row, 0 for a row with no
/// allowed key), so rows stay stochastic over the unmasked positions:
///   random       -> U·m / Σ_k U·m                     (U the drawn noise, m the mask)
///   uniform      -> the row mean over allowed positions, i.e. 1/|allowed| for a stochastic row
///   reversed     -> (max_allowed A − A)·m renormalised; a row whose allowed weights are all equal (nothing to
///                   reverse) becomes uniform over its allowed positions
///   shuffle      -> the release's: per head, the allowed entries of the flattened Q×K map permuted by the head's
///                   permutation (shuffle_map), then each row renormalised to its mass (uniform if it got only zeros)
///   shuffle_keys -> per head h, the allowed keys of each row permuted by the head's priorities u_h: a row
///                   permutation, so no renormalisation; without a mask A[..., π_h(k)] with π_h = argsort(u_h).
/// draw is what draw_for_edit gives (ignored by uniform and reversed).
inline at::Tensor edit_attention(const at::Tensor& weights, const at::Tensor& mask, Edit edit, const at::Tensor& draw) {
  if (weights.dim() != 4) throw std::invalid_argument("attention weights must be [B, heads, Q, K]");
  const at::Tensor m = full_mask(weights, mask);
  const at::Tensor mf = m.to(weights.scalar_type());
  const at::Tensor a = weights * mf;
  const at::Tensor mass = a.sum(-1, /*keepdim=*/true);      // each row's total weight (kept)
  const at::Tensor allowed = mf.sum(-1, /*keepdim=*/true);  // |allowed| per row
  // Spreads a non-negative row r over the allowed positions with total `mass`; rows summing to 0 become uniform.
  auto renormalise = [&](const at::Tensor& r) {
    const at::Tensor total = r.sum(-1, true);
    const at::Tensor flat = mf / allowed.clamp_min(1.0);
    return at::where(total > 0, r / total.clamp_min(1e-300), flat) * mass;
  };
  switch (edit) {
    case Edit::Random: {
      if (!draw.defined() || draw.sizes() != weights.sizes())
        throw std::invalid_argument("the random edit needs noise of the weights' shape");
      return renormalise(draw.to(weights.options()) * mf);
    }
    case Edit::Uniform:
      return mf * (mass / allowed.clamp_min(1.0));
    case Edit::Reversed: {
      // The row maximum over allowed positions (masked ones cannot win: they are pushed below every weight).
      const at::Tensor lowest = at::full({}, -1.0, weights.options());
      const at::Tensor row_max = at::where(m, a, lowest).amax(-1, true);
      return renormalise((row_max - a) * mf);
    }
    case Edit::Shuffle:
      return renormalise(shuffle_map(a, m, draw));
    case Edit::ShuffleKeys: {
      const int64_t H = weights.size(1), K = weights.size(3);
      if (!draw.defined() || draw.dim() != 2 || draw.size(0) != H || draw.size(1) != K)
        throw std::invalid_argument("the shuffle_keys edit needs priorities of shape [heads, K]");
      return permute_allowed(a, m, draw.to(at::kDouble).view({1, H, 1, K}));
    }
  }
  throw std::logic_error("unhandled counterfactual edit");
}

}  // namespace mmdebias::causalmm
