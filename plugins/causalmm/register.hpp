// Internal to the causalmm plugin: one registration function per component file, called by plugin.cpp.
#pragma once

#include "mmdebias/sdk/registrar.hpp"

namespace mmdebias::causalmm {

/// Registers causalmm.counterfactual_attention (counterfactual_attention.cpp).
void register_counterfactual_attention(sdk::Registrar& r);

}  // namespace mmdebias::causalmm
