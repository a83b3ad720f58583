// Shared by the manifest tests: one host with the std and fixture plugins loaded through the real loader.
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "mmdebias/core/errors.hpp"
#include "mmdebias/core/manifest.hpp"
#include "mmdebias/core/plugin_host.hpp"
#include "mmdebias/core/validate.hpp"

namespace manifest_test {

/// The std plugin (shipped dir) and the fixture plugin, loaded once.
inline const mmdebias::core::PluginHost& host() {
  static const mmdebias::core::PluginHost* h = [] {
    auto* host = new mmdebias::core::PluginHost();
    mmdebias::core::SearchPath sp;
    sp.cli = {std::string(MMDEBIAS_FIXTURE_DIR) + "/fixture"};
    sp.builtin = {MMDEBIAS_PLUGIN_DIR};
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
