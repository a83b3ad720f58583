#include "plugin/duplicates.hpp"

#include <map>

#include "plugin/pins.hpp"

namespace mmdebias::core {
namespace fs = std::filesystem;
namespace {

// "A", "A and B", "A, B and C".
std::string and_list(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i)
    out += (i == 0 ? "" : i + 1 == items.size() ? " and " : ", ") + items[i];
  return out;
}

std::string taken_from(const std::string& plugin, const fs::path& chosen) {
  return "skipped: plugin '" + plugin + "' is taken from " + chosen.string() + " given with --plugin-path";
}

// The error shown for every file of one plugin name: all the files, and how to choose one.
std::string conflict_message(const std::vector<ProvidingFile>& files, const std::vector<size_t>& group) {
  std::vector<std::string> paths, direct;
  bool same_file_name = true;
  for (size_t i : group) {
    paths.push_back(files[i].path.string());
    if (files[i].direct) direct.push_back(files[i].path.string());
    same_file_name = same_file_name && files[i].path.filename() == files[group[0]].path.filename();
  }
  std::string out = "plugin '" + files[group[0]].plugin + "' is provided by " + std::to_string(group.size()) +
                    " files on the search path: " + and_list(paths) + "; ";
  if (direct.size() > 1) return out + and_list(direct) + " are all given with --plugin-path: give only one of them";
  const std::string example = same_file_name ? "PATH/" + files[group[0]].path.filename().string() : "FILE";
  return out + "name the one to use as a file with --plugin-path " + example + ", or remove the other" +
         (group.size() > 2 ? "s" : "") + " from the search path";
}

}  // namespace

std::string skip_before_opening(const std::vector<ProvidingFile>& files, size_t i) {
  if (files[i].direct || !is_plugin_file_name(files[i].path)) return "";  // only a plugin file's name tells its plugin
  const ProvidingFile* chosen = nullptr;
  for (const auto& f : files) {
    if (!f.direct || f.path.filename() != files[i].path.filename()) continue;
    if (chosen) return "";  // two given directly: opening both is what tells the error
    chosen = &f;
  }
  if (!chosen) return "";
  return taken_from(pin_key(files[i].path), chosen->path) + " (a file of the same name; this one was not opened)";
}

std::vector<DuplicateDecision> decide_duplicates(const std::vector<ProvidingFile>& files) {
  std::map<std::string, std::vector<size_t>> by_plugin;
  for (size_t i = 0; i < files.size(); ++i)
    if (!files[i].plugin.empty()) by_plugin[files[i].plugin].push_back(i);
  std::vector<DuplicateDecision> out(files.size());
  for (const auto& [plugin, group] : by_plugin) {
    if (group.size() < 2) continue;
    std::vector<size_t> direct;
    for (size_t i : group) if (files[i].direct) direct.push_back(i);
    if (direct.size() == 1) {
      for (size_t i : group)
        if (i != direct[0]) out[i] = {DuplicateVerdict::Skip, taken_from(plugin, files[direct[0]].path)};
      continue;
    }
    const std::string error = conflict_message(files, group);
    for (size_t i : group) out[i] = {DuplicateVerdict::Conflict, error};
  }
  return out;
}

}  // namespace mmdebias::core
