// Internal to the tensorboard plugin: its one registration function, called by plugin.cpp.
#pragma once

#include "mmdebias/sdk/registrar.hpp"

namespace mmdebias::tensorboard {

/// Registers tensorboard.events (events_sink.cpp).
void register_events_sink(sdk::Registrar& r);

}  // namespace mmdebias::tensorboard
