// `mmdebias validate`: a manifest checked whole against the loaded plugins before any compute, printed resolved
// or as its cost estimate. Every problem is thrown at once as InputErrors ("file:line:col: key.path: what").
#pragma once

#include <string>

#include "mmdebias/core/manifest.hpp"
#include "mmdebias/core/plugin_host.hpp"

namespace mmdebias::core {

/// The resolved manifest as YAML (defaults filled, provenance) followed by the hook order as comment lines.
std::string validate_report(const Manifest& manifest, const PluginHost& plugins);

/// What each component costs per training step and evaluation batch (components built, never run): an aligned
/// table, or JSON text when json is set.
std::string cost_report(const Manifest& manifest, const PluginHost& plugins, bool json);

}  // namespace mmdebias::core
