// The arl plugin's entry point: declares its components; no work is done at registration.
#include "mmdebias/sdk/plugin.hpp"

namespace {

void register_arl(mmdebias::sdk::Registrar& r) { (void)r; }

}  // namespace

MMDEBIAS_PLUGIN("arl", "0.1.0", "Asymmetric Representation Learning: per-modality uncertainty and asymmetric reweighting", register_arl)
