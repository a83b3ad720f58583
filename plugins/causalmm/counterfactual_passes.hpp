// Internal to the causalmm plugin: the counterfactual forward passes — the model re-run with edited attention
// at one level's sites, averaged over K sampled maps (the backdoor adjustment).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "counterfactual_edits.hpp"
#include "mmdebias/sdk/attention.hpp"
#include "mmdebias/sdk/data.hpp"
#include "mmdebias/sdk/model.hpp"

namespace mmdebias::causalmm {

/// The outcome of intervening at one group of sites.
struct CounterfactualOutcome {
  at::Tensor mean_logits;  ///< l̄_cf: the counterfactual logits averaged over the sampled maps [B, C].
  at::Tensor effect;       ///< Average causal effect of attention: mean over maps, samples, classes of |l_f − l_cf| (scalar).
};

/// Site overrides that replace the weights at each of `sites` by edit(weights, mask, draw), the draw taken
/// from gen at the moment the site is reached (so each pass and each site gets fresh numbers).
inline sdk::AttentionSites counterfactual_sites(const std::vector<std::string>& sites, Edit edit, at::Generator& gen) {
  sdk::AttentionSites out;
  for (const auto& site : sites)
    out.set_override(site, [edit, &gen](const at::Tensor& weights, const at::Tensor& mask) {
      return edit_attention(weights, mask, edit, draw_for_edit(edit, weights.sizes(), gen));
    });
  return out;
}

/// Runs `samples` counterfactual passes of the model on batch with the edit at `sites` (one pass when the edit
/// draws nothing: its map is the same every time) and averages their logits; the effect is measured against l_f.
inline CounterfactualOutcome run_counterfactuals(const sdk::Batch& batch, sdk::Model& model, const std::vector<std::string>& sites,
                                                 Edit edit, int64_t samples, at::Generator& gen, const at::Tensor& l_f) {
  const int64_t passes = edit_is_random(edit) ? samples : 1;
  at::Tensor sum, effect;
  for (int64_t k = 0; k < passes; ++k) {
    const sdk::AttentionSites overrides = counterfactual_sites(sites, edit, gen);
    at::Tensor l_cf = model.forward(batch, overrides).logits;
    at::Tensor e = (l_f.detach() - l_cf.detach()).abs().mean();
    sum = k == 0 ? l_cf : sum + l_cf;
    effect = k == 0 ? e : effect + e;
  }
  return {sum / static_cast<double>(passes), effect / static_cast<double>(passes)};
}

}  // namespace mmdebias::causalmm
