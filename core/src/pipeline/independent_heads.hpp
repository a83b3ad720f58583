// Whether a built fusion's per-modality heads are classifiers of their own (capability::kIndependentModalityHeads),
// found from the fusion itself rather than from what it declares.
#pragma once

#include "mmdebias/sdk/components.hpp"

namespace mmdebias::core::detail {

/// True when the fusion gives per-modality logits and no parameter that head() uses takes part in any
/// modality_head(): found by which parameters each one's output reaches through autograd, on inputs of ones
/// (in eval mode, so no dropout draws a random number). False when a probe throws.
bool has_independent_modality_heads(sdk::Fusion& fusion, const sdk::ModelSpec& model);

}  // namespace mmdebias::core::detail
