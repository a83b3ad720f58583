// The reserved keys of a trained component that set its starting weights and frozen parameters:
// init (a weight file), trainable (false freezes all) and freeze (name patterns).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "manifest/diagnostics.hpp"
#include "manifest/parsed.hpp"

namespace mmdebias::core::detail {

/// The key names (reserved in trained components' maps).
const std::vector<std::string>& weight_key_names();

/// The init schema: path, key, prefix, ignore, strict (rename is a map, read apart).
const sdk::Schema& init_schema();

/// Reads c's init / trainable / freeze (relative paths resolved against base_dir, the file's sha256 taken) into
/// c.weights and c.resolved; problems go to diag at their keys and make c not ok.
void read_weight_keys(ParsedComponent& c, const std::filesystem::path& base_dir, Diagnostics& diag);

}  // namespace mmdebias::core::detail
