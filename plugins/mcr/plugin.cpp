// The mcr plugin's entry point: declares its components; no work is done at registration.
#include "mmdebias/sdk/plugin.hpp"

namespace {

void register_mcr(mmdebias::sdk::Registrar&) {}

}  // namespace

MMDEBIAS_PLUGIN("mcr", "0.1.0", "Multimodal Competition Regularizer (MCR, NeurIPS 2025)", register_mcr)
