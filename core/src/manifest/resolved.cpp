// Writing the resolved manifest: the config with defaults filled, then its provenance.
#include <iomanip>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "manifest/resolved.hpp"
#include "plugin/library.hpp"

#ifndef MMDEBIAS_VERSION
#define MMDEBIAS_VERSION "unknown"
#endif

namespace mmdebias::core {

std::vector<LibraryProvenance> library_provenance(const PluginHost& host) {
  std::vector<LibraryProvenance> out;
  for (const auto& s : host.statuses())
    if (s.opened) out.push_back({s.path.string(), s.sha256, s.loaded});
  return out;
}

std::string emit_yaml(const ResolvedManifest& resolved) {
  YAML::Node doc = YAML::Clone(resolved.config);
  if (!doc.IsMap()) doc = YAML::Node(YAML::NodeType::Map);
  YAML::Node prov(YAML::NodeType::Map);
  YAML::Node host(YAML::NodeType::Map);
  host["version"] = MMDEBIAS_VERSION;
  host["fingerprint"] = host_build_info().fingerprint_text();
  prov["host"] = host;
  YAML::Node plugins(YAML::NodeType::Map);
  for (const auto& p : resolved.plugins) {
    YAML::Node entry(YAML::NodeType::Map);
    entry["version"] = p.version;
    entry["path"] = p.path;
    entry["sha256"] = p.sha256;
    entry["abi"] = p.abi;
    entry["fingerprint"] = p.fingerprint;
    plugins[p.name] = entry;
  }
  prov["plugins"] = plugins;
  YAML::Node libraries(YAML::NodeType::Sequence);
  for (const auto& l : resolved.libraries) {
    YAML::Node entry(YAML::NodeType::Map);
    entry["path"] = l.path;
    entry["sha256"] = l.sha256;
    entry["loaded"] = l.loaded;
    entry.SetStyle(YAML::EmitterStyle::Flow);
    libraries.push_back(entry);
  }
  prov["libraries"] = libraries;
  YAML::Node hooks(YAML::NodeType::Sequence);
  for (const auto& h : resolved.hooks) {
    YAML::Node slot(YAML::NodeType::Map);
    slot["step"] = h.step;
    slot["hook"] = h.hook;
    YAML::Node instances(YAML::NodeType::Sequence);
    for (const auto& i : h.instances) instances.push_back(i);
    instances.SetStyle(YAML::EmitterStyle::Flow);
    slot["instances"] = instances;
    slot.SetStyle(YAML::EmitterStyle::Flow);
    hooks.push_back(slot);
  }
  prov["hooks"] = hooks;
  doc["provenance"] = prov;
  YAML::Emitter out;
  out << doc;
  return std::string(out.c_str()) + "\n";
}

std::string format_hook_order(const ResolvedManifest& resolved) {
  // Comments, not data: the listing is for people; tools read provenance.hooks above.
  std::ostringstream out;
  out << "# hook order (the engine calls hooks top to bottom, numbered as in the plugin guide; within a hook, manifest order):\n";
  for (const auto& h : resolved.hooks) {
    const std::string label = h.step + " " + h.hook;
    out << "#   " << std::left << std::setw(30) << label;
    if (h.instances.empty()) out << "-";
    for (size_t i = 0; i < h.instances.size(); ++i)
      out << (i ? ", " : "") << h.instances[i] << (i < h.types.size() ? " (" + h.types[i] + ")" : "");
    out << "\n";
  }
  return out.str();
}

}  // namespace mmdebias::core
