// The mcr plugin's entry point: declares its components; no work is done at registration.
#include "mmdebias/sdk/plugin.hpp"

#include "register.hpp"

namespace {

void register_mcr(mmdebias::sdk::Registrar& r) { mmdebias::mcr::register_competition(r); }

}  // namespace

MMDEBIAS_PLUGIN("mcr", "0.1.0",
                "Multimodal Competition Regularizer (MCR, NeurIPS 2025): the mcr.competition intervention (latent-permutation "
                "game regularizer, supervised contrastive and CEB terms)",
                register_mcr)
