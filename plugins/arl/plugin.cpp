// The arl plugin's entry point: declares its components; no work is done at registration.
#include "mmdebias/sdk/plugin.hpp"

#include "register.hpp"

namespace {

void register_arl(mmdebias::sdk::Registrar& r) {
  mmdebias::arl::register_uncertainty_estimator(r);
  mmdebias::arl::register_reweight_intervention(r);
}

}  // namespace

MMDEBIAS_PLUGIN("arl", "0.1.0",
                "Asymmetric Representation Learning (ICCV 2025): per-modality uncertainty (arl.uncertainty) and "
                "asymmetric gradient scaling with a unimodal bias term (arl.reweight)",
                register_arl)
