// The causalmm plugin's entry point: declares its components; no work is done at registration.
#include "mmdebias/sdk/plugin.hpp"

#include "register.hpp"

namespace {

void register_causalmm(mmdebias::sdk::Registrar& r) { mmdebias::causalmm::register_counterfactual_attention(r); }

}  // namespace

MMDEBIAS_PLUGIN("causalmm", "0.1.0",
                "CausalMM: counterfactual attention at attention sites, contrastive and backdoor-adjusted prediction",
                register_causalmm)
