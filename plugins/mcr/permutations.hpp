// Latent permutations: which sample's features replace which, and the shuffle types that drop pairs.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/core/Generator.h>

#include "mmdebias/sdk/bind.hpp"

namespace mmdebias::mcr {

/// Which rows of a permutation are kept.
enum class Shuffle {
  Rand,  ///< every row (a fixed point i -> i is a row whose perturbation changes nothing)
  Rsl,   ///< rows whose source sample has a different label ("random shuffle, different label")
  Rsi,   ///< rows that are not fixed points ("random shuffle, different index")
};

/// The option spellings of the shuffle types, in the order `describe` lists them.
inline const sdk::ChoiceTable<Shuffle>& shuffle_choices() {
  static const sdk::ChoiceTable<Shuffle> table = {{"rand", Shuffle::Rand}, {"rsl", Shuffle::Rsl}, {"rsi", Shuffle::Rsi}};
  return table;
}

/// "rand" / "rsl" / "rsi" as a Shuffle; throws on anything else.
inline Shuffle parse_shuffle(const std::string& name) {
  for (const auto& [spelling, shuffle] : shuffle_choices())
    if (spelling == name) return shuffle;
  throw std::invalid_argument("unknown shuffle type '" + name + "' (choose rand, rsl or rsi)");
}

/// The rows of all S permuted passes, concatenated: row n pairs sample target[n] (its other modalities
/// and its base prediction) with the perturbed modality's features of sample source[n].
struct Pairing {
  at::Tensor target;  ///< [N] int64
  at::Tensor source;  ///< [N] int64
  /// Number of rows N.
  int64_t rows() const { return target.defined() ? target.size(0) : 0; }
};

/// Mask [B] of the rows of permutation perm [B] that a shuffle type keeps, given labels [B].
inline at::Tensor kept_rows(const at::Tensor& perm, const at::Tensor& labels, Shuffle type) {
  switch (type) {
    case Shuffle::Rsl: return labels.index_select(0, perm).ne(labels);
    case Shuffle::Rsi: return perm.ne(at::arange(perm.size(0), perm.options()));
    case Shuffle::Rand: break;
  }
  return at::ones({perm.size(0)}, perm.options().dtype(at::kBool));
}

/// The rows of the given permutations ([S, B] int64, each row a permutation of 0..B-1) that the shuffle
/// type keeps, concatenated in permutation order. This is the test seam: tests inject permutations here.
inline Pairing pair_rows(const at::Tensor& perms, const at::Tensor& labels, Shuffle type) {
  TORCH_CHECK(perms.dim() == 2 && labels.dim() == 1 && perms.size(1) == labels.size(0),
              "pair_rows expects permutations [S, B] and labels [B], got ", perms.sizes(), " and ", labels.sizes());
  const at::Tensor source = perms.to(at::kLong);
  const at::Tensor target = at::arange(labels.size(0), source.options()).expand_as(source);
  if (type == Shuffle::Rand) return {target.reshape({-1}), source.reshape({-1})};
  // One mask for all S permutations; masked_select reads row-major, so permutation order is kept.
  const at::Tensor keep = type == Shuffle::Rsl ? labels.index({source}).ne(labels.unsqueeze(0)) : source.ne(target);
  return {target.masked_select(keep), source.masked_select(keep)};
}

/// Draws S permutations of a batch of B from gen. As in the release, a permutation that keeps at most
/// one row is redrawn (up to max_tries times, after which it is kept as it is: a batch of one label
/// under rsl has no pair to keep, and the step's regularizer is then 0).
inline at::Tensor draw_permutations(at::Generator& gen, const at::Tensor& labels, int64_t samples, Shuffle type,
                                    int max_tries = 100) {
  const int64_t batch = labels.size(0);
  // The generator is the host's (CPU), and the rejection test reads the labels: both on the host, the labels copied
  // there once; the caller moves the permutations to the labels' device.
  const at::Tensor host_labels = type == Shuffle::Rsl ? labels.to(at::kCPU) : labels;
  at::Tensor out = at::empty({samples, batch}, at::kLong);
  for (int64_t s = 0; s < samples; ++s) {
    at::Tensor perm;
    for (int tries = 0; tries < max_tries; ++tries) {
      perm = at::randperm(batch, gen, at::TensorOptions().dtype(at::kLong));
      if (type == Shuffle::Rand ? batch > 1 : kept_rows(perm, host_labels, type).sum().item<int64_t>() > 1) break;
    }
    out[s].copy_(perm);
  }
  return out;
}

}  // namespace mmdebias::mcr
