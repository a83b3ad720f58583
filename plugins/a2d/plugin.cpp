// The a2d plugin's entry point: declares every component; no work is done at registration.
#include "mmdebias/sdk/plugin.hpp"

#include "register.hpp"

namespace {

void register_a2d(mmdebias::sdk::Registrar& r) {
  using namespace mmdebias::a2d;
  register_disagree(r);
  register_npmix(r);
  register_mahalanobis(r);
  register_knn(r);
  register_gen(r);
  register_vim(r);
  register_shaping_scorers(r);
}

}  // namespace

MMDEBIAS_PLUGIN("a2d", "0.1.0",
                "MultiOOD: Agree-to-Disagree training (a2d.disagree), NP-Mix outlier synthesis (a2d.npmix) and OOD scorers "
                "(mahalanobis, knn, gen, vim, react, ash)",
                register_a2d)
