// The tensorboard plugin's entry point: declares its sink; no work is done at registration.
#include "mmdebias/sdk/plugin.hpp"

#include "register.hpp"

namespace {

void register_tensorboard(mmdebias::sdk::Registrar& r) { mmdebias::tensorboard::register_events_sink(r); }

}  // namespace

MMDEBIAS_PLUGIN("tensorboard", "0.1.0",
                "Metric sink: TensorBoard event files of a run's metrics (tensorboard.events)", register_tensorboard)
