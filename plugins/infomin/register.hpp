// Internal to the infomin plugin: the estimate names its components publish and read, and one registration
// function per component file, called by plugin.cpp.
#pragma once

#include "mmdebias/sdk/registrar.hpp"

namespace mmdebias::infomin {

/// The confounder representation r = remap(b) [B, d] published by infomin.confounder.
inline constexpr const char* kConfounderEstimate = "infomin.confounder";
/// The bias-only logits b_logit = conf_head(r) [B, C] published by infomin.confounder.
inline constexpr const char* kBiasLogitsEstimate = "infomin.bias_logits";

/// Registers infomin.confounder (confounder_estimator.cpp).
void register_confounder(sdk::Registrar& r);
/// Registers infomin.debias (debias_intervention.cpp).
void register_debias(sdk::Registrar& r);
/// Registers infomin.backdoor (backdoor_intervention.cpp).
void register_backdoor(sdk::Registrar& r);

}  // namespace mmdebias::infomin
