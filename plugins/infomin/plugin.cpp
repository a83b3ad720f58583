// The infomin plugin's entry point: declares every component; no work is done at registration.
#include "mmdebias/sdk/plugin.hpp"

#include "register.hpp"

namespace {

void register_infomin(mmdebias::sdk::Registrar& r) {
  mmdebias::infomin::register_confounder(r);
  mmdebias::infomin::register_debias(r);
  mmdebias::infomin::register_backdoor(r);
}

}  // namespace

MMDEBIAS_PLUGIN("infomin", "0.1.0",
                "CausalInfoMin: a learned confounder by information minimisation with total-effect debiasing "
                "(confounder, debias) and K-means substitute confounders with backdoor-adjusted prediction (backdoor)",
                register_infomin)
