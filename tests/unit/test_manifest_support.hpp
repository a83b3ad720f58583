// Shared by the manifest tests: one host with the std and fixture plugins loaded through the real loader.
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <unistd.h>

#include "mmdebias/core/errors.hpp"
#include "mmdebias/core/manifest.hpp"
#include "mmdebias/core/plugin_host.hpp"
#include "pipeline/validate.hpp"

namespace manifest_test {

/// The std, data and fixture plugins, loaded once. Only those: the golden messages list the registered
/// components, and must not change whenever another shipped plugin is added.
inline const mmdebias::core::PluginHost& host() {
  static const mmdebias::core::PluginHost* h = [] {
    namespace fs = std::filesystem;
    // One directory per process (ctest runs test cases in parallel processes), removed at exit.
    static const struct Dir {
      fs::path path = fs::temp_directory_path() / ("mmdebias-manifest-tests-" + std::to_string(::getpid()));
      ~Dir() { std::error_code ec; fs::remove_all(path, ec); }
    } scratch;
    const fs::path& dir = scratch.path;
    fs::create_directories(dir);
    for (const char* name : {"mmdebias-std.so", "mmdebias-data.so"}) {
      fs::remove(dir / name);
      fs::create_symlink(fs::path(MMDEBIAS_PLUGIN_DIR) / name, dir / name);
    }
    auto* host = new mmdebias::core::PluginHost();
    mmdebias::core::SearchPath sp;
    sp.cli = {std::string(MMDEBIAS_FIXTURE_DIR) + "/fixture"};
    sp.builtin = {dir.string()};
    host->load(sp);
    return host;
  }();
  return *h;
}

inline std::filesystem::path manifests_dir() { return std::filesystem::path(MMDEBIAS_SOURCE_DIR) / "tests" / "manifests"; }

inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// The error lines validation (or loading) reports for text, "" when it is valid.
inline std::string errors_of(const std::string& text, const std::vector<std::string>& overrides = {},
                             const std::string& name = "test.yaml") {
  try {
    auto m = mmdebias::core::load_manifest_text(text, name, mmdebias::core::parse_overrides(overrides));
    mmdebias::core::validate_manifest(m, host().registry());
    return "";
  } catch (const mmdebias::core::InputError& e) {
    return e.what();
  }
}

}  // namespace manifest_test
