// The plugins section as read before any plugin is loaded: where to search, and which binaries to accept.
#pragma once

#include <filesystem>
#include <string>

#include "mmdebias/core/manifest.hpp"

namespace mmdebias::core {

/// One plugins.paths entry as the host searches it: relative entries resolved against the manifest's directory,
/// so that the same files are found whatever the current directory (and from a run directory, whose manifest.yaml
/// records them absolute).
std::filesystem::path resolve_plugin_path(const Manifest& manifest, const std::string& entry);

}  // namespace mmdebias::core
