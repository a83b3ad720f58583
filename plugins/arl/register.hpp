// Internal to the arl plugin: one registration function per component file, called by plugin.cpp.
#pragma once

#include "mmdebias/sdk/registrar.hpp"

namespace mmdebias::arl {

/// The capability arl.uncertainty provides and arl.reweight needs: the estimate "arl.weights".
inline constexpr const char* kWeightsCapability = "arl.weights";
/// Name of the published raw per-modality uncertainty [M] (modality order of the dataset).
inline constexpr const char* kUncertaintyEstimate = "arl.uncertainty";
/// Name of the published normalised, clamped uncertainty Û [M].
inline constexpr const char* kNormalizedEstimate = "arl.uncertainty_normalized";
/// Name of the published weights w [M] (sum to 1).
inline constexpr const char* kWeightsEstimate = "arl.weights";

/// Registers arl.uncertainty (uncertainty_estimator.cpp).
void register_uncertainty_estimator(sdk::Registrar& r);
/// Registers arl.reweight (reweight_intervention.cpp).
void register_reweight_intervention(sdk::Registrar& r);

}  // namespace mmdebias::arl
