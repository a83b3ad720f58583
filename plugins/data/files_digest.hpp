// The fingerprint of a data.files split (see docs/files-format.md, "Fingerprint").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "files_config.hpp"
#include "files_layout.hpp"

namespace mmdebias::data_plugin::files {

/// Above this many bytes of files in a split, the fingerprint samples the data instead of hashing all of it.
constexpr uint64_t kFullHashLimit = 256ull << 20;

/// FNV-1a-64 over the options that shape the data (split, modalities, class and group counts, vocabularies: 0 for a
/// dense modality) and the split's files, which must be mapped, as 16 hex digits. Throws sdk::DataError naming a file
/// that changed on disk while it was hashed.
std::string split_digest(const Config& c, const SplitFiles& mapped, int64_t classes, int64_t groups,
                         const std::vector<int64_t>& vocab);

}  // namespace mmdebias::data_plugin::files
