#include "plugin/pins.hpp"

#include <cctype>

#include "common/sha256.hpp"
#include "mmdebias/core/errors.hpp"

namespace mmdebias::core {
namespace fs = std::filesystem;
namespace {

constexpr const char* kPrefix = "mmdebias-";
constexpr const char* kSuffix = ".so";

}  // namespace

bool is_plugin_file_name(const fs::path& file) {
  const std::string name = file.filename().string();
  const size_t prefix = std::char_traits<char>::length(kPrefix), suffix = std::char_traits<char>::length(kSuffix);
  return name.size() > prefix + suffix && name.compare(0, prefix, kPrefix) == 0 &&
         name.compare(name.size() - suffix, suffix, kSuffix) == 0;
}

std::string pin_key(const fs::path& file) {
  const std::string name = file.filename().string();
  const size_t prefix = std::char_traits<char>::length(kPrefix), suffix = std::char_traits<char>::length(kSuffix);
  return name.substr(prefix, name.size() - prefix - suffix);
}

bool is_pin_key(const std::string& key) {
  if (key.empty()) return false;
  for (char c : key)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) return false;
  return true;
}

std::optional<std::string> normalized_pin(const std::string& text) {
  if (text.size() != 64) return std::nullopt;
  std::string out = text;
  for (char& c : out) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::vector<CheckedFile> check_before_opening(const std::vector<fs::path>& files, const std::map<std::string, std::string>& pins) {
  std::vector<std::string> refusals;
  std::map<std::string, std::string> digests;
  for (const auto& [key, text] : pins) {
    auto pin = normalized_pin(text);
    if (!is_pin_key(key)) refusals.push_back("plugins.sha256: key '" + key + "' names no file mmdebias-<key>.so");
    else if (!pin) refusals.push_back("plugins.sha256." + key + ": expected a SHA-256 digest (64 hex digits), got '" + text + "'");
    else digests[key] = *pin;
  }
  std::vector<CheckedFile> out;
  for (const auto& file : files) {
    const fs::path path = fs::absolute(file).lexically_normal();
    if (!is_plugin_file_name(path)) {
      refusals.push_back("refused " + path.string() + ": plugin files are named mmdebias-<name>.so, this one is not (it was not opened)");
      continue;
    }
    CheckedFile checked{file, "", ""};
    try {
      checked.sha256 = sha256_file(file);
    } catch (const RunError& e) {
      checked.refusal = "refused " + path.string() + ": " + e.what();
    }
    auto pin = digests.find(pin_key(path));
    if (pin != digests.end() && checked.refusal.empty() && checked.sha256 != pin->second)
      refusals.push_back("refused " + path.string() + ": its sha256 is " + checked.sha256 + ", plugins.sha256." + pin->first +
                         " pins " + pin->second + " (it was not opened)");
    out.push_back(std::move(checked));
  }
  if (!refusals.empty()) {
    refusals.push_back("no plugin was loaded: fix the search path (--plugin-path, MMDEBIAS_PLUGIN_PATH, plugins.paths) or the pins");
    throw InputErrors(refusals);
  }
  return out;
}

}  // namespace mmdebias::core
