#include "common/cache_dir.hpp"

#include <cstdlib>

namespace mmdebias::core {

std::filesystem::path data_cache_dir() {
  auto env = [](const char* name) -> const char* {
    const char* v = std::getenv(name);
    return v && *v ? v : nullptr;
  };
  if (const char* dir = env("MMDEBIAS_CACHE_DIR")) return dir;
  if (const char* xdg = env("XDG_CACHE_HOME")) return std::filesystem::path(xdg) / "mmdebias";
  if (const char* home = env("HOME")) return std::filesystem::path(home) / ".cache" / "mmdebias";
  return "/tmp/mmdebias-cache";
}

}  // namespace mmdebias::core
