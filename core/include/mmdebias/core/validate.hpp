// `mmdebias validate`: a manifest checked whole against the loaded plugins before any compute, printed resolved
// or as its cost estimate. Every problem is thrown at once as InputErrors ("file:line:col: key.path: what").
#pragma once

#include <string>
#include <vector>

#include "mmdebias/core/manifest.hpp"
#include "mmdebias/core/plugin_host.hpp"

namespace mmdebias::core {

/// What `mmdebias validate` shows of a manifest that validates.
struct ValidateReport {
  std::string text;                   ///< The resolved manifest as YAML (defaults filled, provenance), then the hook order as comment lines.
  std::vector<std::string> warnings;  ///< What the dataset warns of (e.g. most classes empty), one sentence each.
};

/// Validates the manifest and describes it (throws InputErrors as validate_and_build).
ValidateReport validate_report(const Manifest& manifest, const PluginHost& plugins);

/// What each component costs per training step and evaluation batch (components built, never run): an aligned
/// table, or JSON text when json is set.
std::string cost_report(const Manifest& manifest, const PluginHost& plugins, bool json);

}  // namespace mmdebias::core
