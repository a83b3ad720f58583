// Where datasets keep generated or decoded files between runs.
#pragma once

#include <filesystem>

namespace mmdebias::core {

/// $MMDEBIAS_CACHE_DIR, else $XDG_CACHE_HOME/mmdebias, else $HOME/.cache/mmdebias, else /tmp/mmdebias-cache.
std::filesystem::path data_cache_dir();

}  // namespace mmdebias::core
