// Checks of a manifest's raw text that YAML parsing alone does not make: its size, and quotes left open.
#pragma once

#include <cstddef>
#include <string>

#include <yaml-cpp/yaml.h>

namespace mmdebias::core {

/// The largest manifest (or override value) read: manifests hold settings, not data, and yaml-cpp needs
/// ~750 bytes of memory per byte of a long flow list (a 5 MB manifest took 3.8 GB).
constexpr size_t kMaxManifestBytes = 256 * 1024;

/// Throws InputError naming `what` when text is longer than kMaxManifestBytes.
void check_manifest_size(size_t bytes, const std::string& what);

/// Throws InputError at file:line:col when a quoted scalar of root has no closing quote in text: yaml-cpp
/// accepts one that runs to the end of the file, silently swallowing every key after it.
void check_quotes_closed(const std::string& text, const YAML::Node& root, const std::string& display_name);

}  // namespace mmdebias::core
