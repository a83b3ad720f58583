#include "mmdebias/core/plugin_host.hpp"

#include "plugin/library.hpp"
#include "plugin/registry.hpp"

#include <boost/dll/runtime_symbol_info.hpp>

#include <algorithm>
#include <set>

#include "mmdebias/core/errors.hpp"
#include "plugin/load_crash_note.hpp"

namespace mmdebias::core {
namespace fs = std::filesystem;

std::vector<fs::path> SearchPath::ordered() const {
  std::vector<fs::path> out;
  std::set<std::string> seen;
  for (const auto* list : {&cli, &env, &manifest, &builtin}) {
    for (const auto& p : *list) {
      std::error_code ec;
      fs::path key = fs::weakly_canonical(p, ec);
      if (seen.insert((ec ? p : key).string()).second) out.push_back(p);
    }
  }
  return out;
}

std::vector<fs::path> SearchPath::split(const std::string& list) {
  std::vector<fs::path> out;
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(':', start);
    if (end == std::string::npos) end = list.size();
    if (end > start) out.emplace_back(list.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

fs::path SearchPath::builtin_dir() {
  fs::path exe = boost::dll::program_location();
  return (exe.parent_path() / ".." / MMDEBIAS_PLUGIN_SUBDIR).lexically_normal();
}

namespace {

bool is_plugin_file_name(const fs::path& p) {
  std::string name = p.filename().string();
  return name.rfind("mmdebias-", 0) == 0 && p.extension() == ".so";
}

// Plugin files of one search entry: the file itself, or the matching files of a directory, sorted.
std::vector<fs::path> candidates_in(const fs::path& entry) {
  std::vector<fs::path> out;
  std::error_code ec;
  if (fs::is_regular_file(entry, ec)) return {entry};
  if (!fs::is_directory(entry, ec)) return out;
  for (const auto& item : fs::directory_iterator(entry, ec))
    if (is_plugin_file_name(item.path()) && item.is_regular_file(ec)) out.push_back(item.path());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

std::vector<fs::path> plugin_files(const SearchPath& search) {
  std::vector<fs::path> out;
  std::set<std::string> seen;
  for (const auto& entry : search.ordered()) {
    for (const auto& file : candidates_in(entry)) {
      std::error_code ec;
      fs::path canonical = fs::weakly_canonical(file, ec);
      if (seen.insert((ec ? file : canonical).string()).second) out.push_back(file);
    }
  }
  return out;
}

PluginHost::PluginHost() : registry_(std::make_unique<Registry>()) {}
PluginHost::~PluginHost() = default;
PluginHost::PluginHost(PluginHost&&) noexcept = default;

void PluginHost::load(const SearchPath& search, const std::map<std::string, std::string>& pins) {
  for (const auto& file : plugin_files(search)) load_file(file, pins);
  for (const auto& pin : pins) {
    if (loaded_.count(pin.first)) continue;
    bool mentioned = std::any_of(statuses_.begin(), statuses_.end(), [&](const PluginStatus& s) { return s.info.name == pin.first; });
    if (!mentioned) {
      PluginStatus missing;
      missing.info.name = pin.first;
      missing.reason = "plugin '" + pin.first + "' is pinned by sha256 in the manifest but was not found on the plugin search path";
      statuses_.push_back(missing);
    }
  }
}

void PluginHost::load_file(const fs::path& file, const std::map<std::string, std::string>& pins) {
  PluginStatus status;
  status.path = fs::absolute(file).lexically_normal();
  try {
    detail::LoadCrashNote crash_note(status.path);  // a segfault while loading names the file and --verify
    std::shared_ptr<PluginLibrary> plugin = PluginLibrary::open(file);
    status.info = plugin->info();
    if (auto refusal = handshake_refusal(plugin->info(), host_build_info(), plugin->path())) throw InputError(*refusal);
    const std::string& name = plugin->info().name;
    if (auto it = loaded_.find(name); it != loaded_.end())
      throw InputError("refused " + plugin->path().string() + ": plugin name '" + name + "' is already provided by " +
                       it->second->path().string() + "; two files may not provide the same plugin (remove one from the search path)");
    if (auto pin = pins.find(name); pin != pins.end() && pin->second != plugin->sha256())
      throw InputError("refused " + plugin->path().string() + ": sha256 " + plugin->sha256() + " differs from the manifest's pin " +
                       pin->second + " for plugin '" + name + "'");
    registry_->register_plugin(plugin);
    for (const auto* e : registry_->entries())
      if (e->plugin == plugin) status.components.push_back(e->full_name);
    loaded_[name] = plugin;
    status.loaded = true;
  } catch (const InputError& e) {
    status.reason = e.what();
  }
  statuses_.push_back(std::move(status));
}

std::shared_ptr<PluginLibrary> PluginHost::plugin(const std::string& name) const {
  auto it = loaded_.find(name);
  return it == loaded_.end() ? nullptr : it->second;
}

std::vector<std::string> PluginHost::refusals() const {
  std::vector<std::string> out;
  for (const auto& s : statuses_) if (!s.loaded) out.push_back(s.reason);
  return out;
}

}  // namespace mmdebias::core
