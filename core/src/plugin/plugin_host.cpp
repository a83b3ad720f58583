#include "mmdebias/core/plugin_host.hpp"

#include "plugin/library.hpp"
#include "plugin/registry.hpp"

#include <boost/dll/runtime_symbol_info.hpp>

#include <algorithm>
#include <set>

#include "mmdebias/core/errors.hpp"
#include "plugin/load_crash_note.hpp"
#include "plugin/pins.hpp"

namespace mmdebias::core {
namespace fs = std::filesystem;

std::vector<fs::path> SearchPath::ordered() const {
  std::vector<fs::path> out;
  std::set<std::string> seen;
  const std::vector<fs::path> none;
  for (const auto* list : {&cli, &env, trusted_only ? &none : &manifest, &builtin}) {
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

// Plugin files of one search entry: the file itself (refused before opening unless it is named mmdebias-*.so), or
// the mmdebias-*.so files of a directory, sorted.
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
  if (search.trusted_only) note_unsearched(search.manifest);
  // Every file is named right and matches its pin before the first one is opened: opening runs its code.
  const std::vector<CheckedFile> files = check_before_opening(plugin_files(search), pins);
  for (const auto& file : files) load_file(file);
  for (const auto& pin : pins) {
    bool found = std::any_of(files.begin(), files.end(), [&](const CheckedFile& f) { return pin_key(f.path) == pin.first; });
    if (!found) {
      PluginStatus missing;
      missing.info.name = pin.first;
      missing.reason = "plugins.sha256." + pin.first + " pins a file mmdebias-" + pin.first +
                       ".so, but there is none on the plugin search path";
      statuses_.push_back(missing);
    }
  }
}

void PluginHost::note_unsearched(const std::vector<fs::path>& manifest_paths) {
  for (const auto& entry : manifest_paths) {
    PluginStatus skipped;
    skipped.path = entry;
    skipped.reason = "not searched: " + entry.string() + " (the manifest's plugins.paths) under --trusted-plugins-only; "
                     "pass it with --plugin-path once you trust what it holds";
    statuses_.push_back(std::move(skipped));
  }
}

void PluginHost::load_file(const CheckedFile& file) {
  PluginStatus status;
  status.path = fs::absolute(file.path).lexically_normal();
  status.sha256 = file.sha256;
  if (!file.refusal.empty()) {
    status.reason = file.refusal;
    statuses_.push_back(std::move(status));
    return;
  }
  try {
    detail::LoadCrashNote crash_note(status.path);  // a segfault or exit while loading names the file and --verify
    status.opened = true;  // from here on the library's own code may have run
    std::shared_ptr<PluginLibrary> plugin = PluginLibrary::open(file.path, file.sha256);
    status.info = plugin->info();
    if (auto refusal = handshake_refusal(plugin->info(), host_build_info(), plugin->path())) throw InputError(*refusal);
    const std::string& name = plugin->info().name;
    if (auto it = loaded_.find(name); it != loaded_.end())
      throw InputError("refused " + plugin->path().string() + ": plugin name '" + name + "' is already provided by " +
                       it->second->path().string() + "; two files may not provide the same plugin (remove one from the search path)");
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
