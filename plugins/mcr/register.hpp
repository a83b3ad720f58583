// Internal to the mcr plugin: one registration function per component file, called by plugin.cpp.
#pragma once

#include "mmdebias/sdk/registrar.hpp"

namespace mmdebias::mcr {

/// Registers mcr.competition (competition.cpp).
void register_competition(sdk::Registrar& r);

}  // namespace mmdebias::mcr
