// The competition game: permuted passes through the fusion and head, batched into one call, and the
// regularizer R that each game mode builds from their divergences.
#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "mmdebias/sdk/bind.hpp"
#include "mmdebias/sdk/components.hpp"

#include "divergence.hpp"
#include "permutations.hpp"

namespace mmdebias::mcr {

/// The game mode: k = -1 greedy, 0 independent, +1 collaborative.
enum class Game { Greedy, Independent, Collaborative };

/// The option spellings of the games, in the order `describe` lists them.
inline const sdk::ChoiceTable<Game>& game_choices() {
  static const sdk::ChoiceTable<Game> table = {
      {"greedy", Game::Greedy}, {"independent", Game::Independent}, {"collaborative", Game::Collaborative}};
  return table;
}

/// Where gradients may flow in one permuted pass of modality m (features of m permuted).
enum class Route {
  Own,     ///< h(z_m[π], sg z_others): only m's encoder (the release's "s<m>_det<others>")
  Others,  ///< h(sg z_m[π], z_others): only the other encoders (the release's "s<m>_det<m>")
  All,     ///< h(z_m[π], z_others): every encoder (collaborative)
};

/// One permuted pass: the modality whose features are permuted and the gradient route.
struct Pass {
  std::string modality;
  Route route;
};

/// The passes a game needs, per modality m in order: greedy {Own, Others}, independent {Own},
/// collaborative {All}.
inline std::vector<Pass> passes_of(Game game, const std::vector<std::string>& modalities) {
  std::vector<Pass> out;
  for (const auto& m : modalities) {
    if (game == Game::Collaborative) out.push_back({m, Route::All});
    else out.push_back({m, Route::Own});
    if (game == Game::Greedy) out.push_back({m, Route::Others});
  }
  return out;
}

/// Coefficient of J(pass) in R / λ: greedy -J(Own) + J(Others), independent -J(Own), collaborative -J(All).
inline double coefficient(const Pass& pass) { return pass.route == Route::Others ? 1.0 : -1.0; }

/// The features of one pass: m's rows from source (stop-gradient unless the route lets m learn), every
/// other modality's rows from target (stop-gradient unless the route lets the others learn).
inline sdk::Features pass_features(const sdk::Features& features, const Pairing& rows, const Pass& pass) {
  sdk::Features out;
  for (const auto& [name, z] : features) {
    const bool permuted = name == pass.modality;
    const bool learns = pass.route == Route::All || (permuted == (pass.route == Route::Own));
    const at::Tensor routed = learns ? z : z.detach();
    out[name] = routed.index_select(0, permuted ? rows.source : rows.target);
  }
  return out;
}

/// The logits of every pass, computed in ONE call of fusion.fuse + fusion.head on the passes'
/// features concatenated along the batch dimension, then split back: result[i] is pass i's [N, C].
inline std::vector<at::Tensor> permuted_logits(sdk::Fusion& fusion, const sdk::Features& features, const Pairing& rows,
                                               const std::vector<Pass>& passes) {
  std::map<std::string, std::vector<at::Tensor>> parts;
  for (const auto& pass : passes)
    for (auto& [name, z] : pass_features(features, rows, pass)) parts[name].push_back(z);
  sdk::Features batched;
  for (auto& [name, list] : parts) batched[name] = at::cat(list, 0);
  const sdk::AttentionSites no_overrides;
  at::Tensor logits = fusion.head(fusion.fuse(batched, no_overrides));
  return logits.split(rows.rows(), 0);
}

/// What the game computed in one step.
struct GameResult {
  at::Tensor value;                            ///< R / λ (scalar): the game's signed sum of divergences
  std::map<std::string, at::Tensor> divergence;  ///< J of each modality's permutation (detached, for metrics)
  int64_t rows = 0;                            ///< rows per pass (N)
};

/// R / λ for a game on features (by modality), base logits [B, C] (the unperturbed prediction, graph
/// attached: J's gradient reaches it as in the release) and the rows of the S permutations. Greedy:
/// Σ_m (-J(h(z_m[π], sg z_-m)) + J(h(sg z_m[π], z_-m))); independent: -Σ_m J(h(z_m[π], sg z_-m));
/// collaborative: -Σ_m J(h(z_m[π], z_-m)). With M = 2 these are exactly the paper's three games.
inline GameResult play(sdk::Fusion& fusion, const sdk::Features& features, const at::Tensor& base, const Pairing& rows,
                       Game game) {
  GameResult out;
  out.rows = rows.rows();
  if (out.rows == 0) {
    out.value = base.sum() * 0.0;
    return out;
  }
  std::vector<std::string> modalities;
  for (const auto& kv : features) modalities.push_back(kv.first);
  const auto passes = passes_of(game, modalities);
  const auto logits = permuted_logits(fusion, features, rows, passes);
  const at::Tensor base_rows = base.index_select(0, rows.target);
  for (size_t i = 0; i < passes.size(); ++i) {
    at::Tensor j = jensen_shannon(logits[i], base_rows);
    out.value = out.value.defined() ? out.value + coefficient(passes[i]) * j : coefficient(passes[i]) * j;
    if (!out.divergence.count(passes[i].modality)) out.divergence[passes[i].modality] = j.detach();
  }
  return out;
}

}  // namespace mmdebias::mcr
