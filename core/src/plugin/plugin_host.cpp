#include "mmdebias/core/plugin_host.hpp"

#include "plugin/library.hpp"
#include "plugin/registry.hpp"

#include <boost/dll/runtime_symbol_info.hpp>

#include <algorithm>
#include <set>

#include "mmdebias/core/errors.hpp"
#include "plugin/duplicates.hpp"
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

// One key per file however it is reached (a relative path, a symlinked directory).
std::string canonical_key(const fs::path& file) {
  std::error_code ec;
  fs::path canonical = fs::weakly_canonical(file, ec);
  return (ec ? file : canonical).string();
}

// Opens one checked file and applies the handshake; null, with the reason in status, when it is refused.
std::shared_ptr<PluginLibrary> open_file(const CheckedFile& file, PluginStatus& status) {
  if (!file.refusal.empty()) {
    status.reason = file.refusal;
    return nullptr;
  }
  try {
    detail::LoadCrashNote crash_note(status.path);  // a segfault or exit while loading names the file and --verify
    status.opened = true;  // from here on the library's own code may have run
    std::shared_ptr<PluginLibrary> plugin = PluginLibrary::open(file.path, file.sha256);
    status.info = plugin->info();
    if (auto refusal = handshake_refusal(plugin->info(), host_build_info(), plugin->path())) throw InputError(*refusal);
    return plugin;
  } catch (const InputError& e) {
    status.reason = e.what();
    return nullptr;
  }
}

}  // namespace

std::vector<PluginCandidate> plugin_files(const SearchPath& search) {
  std::vector<PluginCandidate> out;
  std::set<std::string> seen;
  std::set<std::string> direct;  // the files given directly with --plugin-path
  for (const auto& entry : search.cli) {
    std::error_code ec;
    if (fs::is_regular_file(entry, ec)) direct.insert(canonical_key(entry));
  }
  for (const auto& entry : search.ordered()) {
    for (const auto& file : candidates_in(entry)) {
      const std::string key = canonical_key(file);
      // Kept where first reached (through a directory, say), it stays given directly: that is how it was chosen.
      if (seen.insert(key).second) out.push_back({file, direct.count(key) != 0});
    }
  }
  return out;
}

PluginHost::PluginHost() : registry_(std::make_unique<Registry>()) {}
PluginHost::~PluginHost() = default;
PluginHost::PluginHost(PluginHost&&) noexcept = default;

void PluginHost::load(const SearchPath& search, const std::map<std::string, std::string>& pins) {
  load_for_listing(search, pins);
  if (!conflicts_.empty()) throw InputErrors(conflicts_);
}

void PluginHost::load_for_listing(const SearchPath& search, const std::map<std::string, std::string>& pins) {
  if (search.trusted_only) note_unsearched(search.manifest);
  const std::vector<PluginCandidate> candidates = plugin_files(search);
  std::vector<fs::path> paths;
  for (const auto& c : candidates) paths.push_back(c.path);
  // Every file is named right and matches its pin before the first one is opened: opening runs its code.
  const std::vector<CheckedFile> files = check_before_opening(paths, pins);
  load_files(candidates, files);
  note_missing_pins(files, pins);
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

void PluginHost::note_missing_pins(const std::vector<CheckedFile>& files, const std::map<std::string, std::string>& pins) {
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

// Files (parallel to candidates) are opened first and registered after: the duplicate rule needs the plugin
// name of every file, and a file it skips or refuses must not have registered anything.
void PluginHost::load_files(const std::vector<PluginCandidate>& candidates, const std::vector<CheckedFile>& files) {
  std::vector<ProvidingFile> providing;
  for (const auto& c : candidates) providing.push_back({fs::absolute(c.path).lexically_normal(), c.direct, ""});
  std::vector<PluginStatus> statuses(files.size());
  std::vector<std::shared_ptr<PluginLibrary>> opened(files.size());
  for (size_t i = 0; i < files.size(); ++i) {
    statuses[i].path = providing[i].path;
    statuses[i].sha256 = files[i].sha256;
    statuses[i].reason = skip_before_opening(providing, i);
    statuses[i].skipped = !statuses[i].reason.empty();
    if (statuses[i].skipped) continue;
    opened[i] = open_file(files[i], statuses[i]);
    if (opened[i]) providing[i].plugin = opened[i]->info().name;
  }
  const std::vector<DuplicateDecision> decisions = decide_duplicates(providing);
  for (size_t i = 0; i < files.size(); ++i) {
    if (!opened[i]) continue;
    const DuplicateDecision& d = decisions[i];
    if (d.verdict == DuplicateVerdict::Use) {
      register_file(opened[i], statuses[i]);
      continue;
    }
    statuses[i].reason = d.reason;
    statuses[i].skipped = d.verdict == DuplicateVerdict::Skip;
    if (d.verdict == DuplicateVerdict::Conflict && std::find(conflicts_.begin(), conflicts_.end(), d.reason) == conflicts_.end())
      conflicts_.push_back(d.reason);
  }
  for (auto& s : statuses) statuses_.push_back(std::move(s));
}

void PluginHost::register_file(const std::shared_ptr<PluginLibrary>& plugin, PluginStatus& status) {
  try {
    detail::LoadCrashNote crash_note(status.path);  // registration is the plugin's code too
    registry_->register_plugin(plugin);
    for (const auto* e : registry_->entries())
      if (e->plugin == plugin) status.components.push_back(e->full_name);
    loaded_[plugin->info().name] = plugin;
    status.loaded = true;
  } catch (const InputError& e) {
    status.reason = e.what();
  }
}

std::shared_ptr<PluginLibrary> PluginHost::plugin(const std::string& name) const {
  auto it = loaded_.find(name);
  return it == loaded_.end() ? nullptr : it->second;
}

std::vector<std::string> PluginHost::refusals() const {
  std::vector<std::string> out;
  for (const auto& s : statuses_)
    if (!s.loaded && !s.skipped && std::find(out.begin(), out.end(), s.reason) == out.end())  // a conflict's error is on each of its files
      out.push_back(s.reason);
  return out;
}

std::vector<std::string> PluginHost::skips() const {
  std::vector<std::string> out;
  for (const auto& s : statuses_)
    if (s.skipped) out.push_back(s.path.string() + " " + s.reason);
  return out;
}

}  // namespace mmdebias::core
