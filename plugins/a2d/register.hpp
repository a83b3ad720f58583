// Internal to the a2d plugin: one registration function per component file, called by plugin.cpp.
#pragma once

#include "mmdebias/sdk/registrar.hpp"

namespace mmdebias::a2d {

/// Registers a2d.disagree (disagree.cpp).
void register_disagree(sdk::Registrar& r);
/// Registers a2d.npmix (npmix.cpp).
void register_npmix(sdk::Registrar& r);
/// Registers a2d.mahalanobis (mahalanobis.cpp).
void register_mahalanobis(sdk::Registrar& r);
/// Registers a2d.knn (knn.cpp).
void register_knn(sdk::Registrar& r);
/// Registers a2d.gen (gen.cpp).
void register_gen(sdk::Registrar& r);
/// Registers a2d.vim (vim.cpp).
void register_vim(sdk::Registrar& r);
/// Registers a2d.react and a2d.ash (shaping_scorers.cpp).
void register_shaping_scorers(sdk::Registrar& r);

}  // namespace mmdebias::a2d
