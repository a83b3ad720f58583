#include "manifest/plugin_settings.hpp"

#include "manifest/diagnostics.hpp"
#include "manifest/yaml_options.hpp"
#include "plugin/pins.hpp"

namespace mmdebias::core {

std::filesystem::path resolve_plugin_path(const Manifest& manifest, const std::string& entry) {
  std::filesystem::path p(entry);
  return p.is_absolute() ? p.lexically_normal() : (manifest.base_directory() / p).lexically_normal();
}

// Lenient: a malformed entry is skipped here (so it is never searched) and reported by validation.
std::vector<std::filesystem::path> manifest_plugin_paths(const Manifest& manifest) {
  std::vector<std::filesystem::path> out;
  auto plugins = yaml_child(manifest.root(), "plugins");
  if (!plugins) return out;
  auto paths = yaml_child(*plugins, "paths");
  if (!paths || !paths->IsSequence()) return out;
  for (const auto& entry : *paths)
    if (entry.IsScalar() && !entry.Scalar().empty()) out.push_back(resolve_plugin_path(manifest, entry.Scalar()));
  return out;
}

// Strict, unlike the paths: a pin that is skipped would let its file load unchecked.
std::map<std::string, std::string> manifest_sha256_pins(const Manifest& manifest) {
  std::map<std::string, std::string> out;
  auto plugins = yaml_child(manifest.root(), "plugins");
  auto pins = plugins ? yaml_child(*plugins, "sha256") : std::nullopt;
  if (!pins || pins->IsNull()) return out;
  Diagnostics diag(manifest);
  const std::string before = " (read before any plugin is loaded; none was)";
  if (!pins->IsMap()) {
    diag.error("plugins.sha256", *pins, "expected a map <name> -> SHA-256 digest, pinning the file mmdebias-<name>.so, got " +
                                            describe_yaml(*pins) + before);
    diag.throw_if_any();
  }
  for (auto it = pins->begin(); it != pins->end(); ++it) {
    const std::string key = it->first.IsScalar() ? it->first.Scalar() : "?";
    auto pin = it->second.IsScalar() ? normalized_pin(it->second.Scalar()) : std::nullopt;
    if (!is_pin_key(key))
      diag.error("plugins.sha256", it->first, "key '" + key + "' is not the <name> of a file mmdebias-<name>.so" + before);
    else if (!pin)
      diag.error("plugins.sha256." + key, it->second, "expected a SHA-256 digest (64 hex digits), got " + describe_yaml(it->second) + before);
    else
      out[key] = *pin;
  }
  diag.throw_if_any();
  return out;
}

}  // namespace mmdebias::core
