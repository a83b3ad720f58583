#include "run/resume_check.hpp"

#include <map>

#include <yaml-cpp/yaml.h>

#include "mmdebias/core/errors.hpp"
#include "mmdebias/core/manifest.hpp"

namespace mmdebias::core {
namespace {

using Flat = std::map<std::string, std::string>;

void flatten(const YAML::Node& node, const std::string& path, Flat& out) {
  if (node.IsMap()) {
    for (const auto& kv : node) flatten(kv.second, path.empty() ? kv.first.Scalar() : path + "." + kv.first.Scalar(), out);
  } else if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); ++i) flatten(node[i], path + "." + std::to_string(i), out);
    if (node.size() == 0) out[path] = "[]";
  } else if (node.IsScalar()) {
    out[path] = node.Scalar();
  } else {
    out[path] = "~";
  }
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

// Settings that change how a run is watched or how long it goes on, not what it computes.
bool may_change(const std::string& path, bool for_eval) {
  static const char* free_keys[] = {"train.epochs", "train.steps", "train.log_every", "train.eval_every",
                                    "train.checkpoint_every", "run.threads", "run.prefetch", "run.out", "run.name",
                                    "run.overlap_reduce"};
  for (const char* k : free_keys) if (path == k) return true;
  if (starts_with(path, "run.sinks")) return true;  // sinks watch the run; they compute nothing of it
  if (starts_with(path, "eval.") || starts_with(path, "provenance.hooks") || starts_with(path, "provenance.host")) return true;
  if (starts_with(path, "provenance.data.") && path != "provenance.data.train") return true;  // evaluation splits
  if (starts_with(path, "provenance.plugins.") && path.size() > 5 && path.compare(path.size() - 5, 5, ".path") == 0) return true;
  if (starts_with(path, "provenance.libraries")) return true;  // what was opened: a record, compared through provenance.plugins
  if (for_eval && (starts_with(path, "train.") || starts_with(path, "run."))) return true;
  return false;
}

std::string shorten(const std::string& v) { return v.size() > 24 ? v.substr(0, 12) + "…" : v; }

std::vector<std::string> differences(const YAML::Node& saved, const YAML::Node& current, bool for_eval) {
  Flat a, b;
  flatten(saved, "", a);
  flatten(current, "", b);
  std::vector<std::string> out;
  for (const auto& [path, value] : a) {
    if (may_change(path, for_eval)) continue;
    auto it = b.find(path);
    if (it == b.end()) out.push_back("  " + path + ": " + shorten(value) + " -> (absent)");
    else if (it->second != value) out.push_back("  " + path + ": " + shorten(value) + " -> " + shorten(it->second));
  }
  for (const auto& [path, value] : b)
    if (!may_change(path, for_eval) && !a.count(path)) out.push_back("  " + path + ": (absent) -> " + shorten(value));
  return out;
}

// The config alone: provenance is what the host recorded, and is ignored when a manifest is read.
YAML::Node config_of(const YAML::Node& doc) {
  YAML::Node out = YAML::Clone(doc);
  if (out.IsMap()) out.remove("provenance");
  return out;
}

}  // namespace

std::vector<std::string> resume_differences(const std::string& saved, const std::string& current, bool for_eval) {
  return differences(YAML::Load(saved), YAML::Load(current), for_eval);
}

void refuse_edited_manifest(const std::filesystem::path& manifest_file, const std::string& recorded_resolved,
                            const std::string& checkpoint_name, bool for_eval, const std::string& action) {
  const Manifest on_disk = load_manifest(manifest_file);  // without overrides: those are the user's, checked after loading
  const YAML::Node recorded = YAML::Load(recorded_resolved);
  std::vector<std::string> lines = differences(config_of(recorded), config_of(on_disk.root()), for_eval);
  if (lines.empty()) return;
  lines.insert(lines.begin(), "cannot " + action + ": " + manifest_file.string() + " differs from the config " +
                                  checkpoint_name + " recorded (was it edited?); no plugin was loaded:");
  throw InputErrors(lines);
}

}  // namespace mmdebias::core
