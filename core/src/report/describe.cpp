#include "mmdebias/core/describe.hpp"

#include "plugin/library.hpp"
#include "plugin/registry.hpp"

#include <sstream>

#include "common/text.hpp"
#include "manifest/option_values.hpp"

namespace mmdebias::core {
namespace {

std::string range_text(const sdk::OptionSpec& s) {
  auto num = [](double v) { return format_option_value(sdk::OptionValue(v)); };
  if (!s.choices.empty()) return "one of: " + join(s.choices, ", ");
  if (s.min && s.max) return "[" + num(*s.min) + ", " + num(*s.max) + "]";
  if (s.min) return ">= " + num(*s.min);
  if (s.max) return "<= " + num(*s.max);
  return "";
}

nlohmann::json info_json(const PluginInfo& i) {
  return {{"name", i.name},
          {"version", i.version},
          {"description", i.description},
          {"abi", std::to_string(i.abi_major) + "." + std::to_string(i.abi_minor)},
          {"sdk_version", i.sdk_version},
          {"torch", std::to_string(i.torch_major) + "." + std::to_string(i.torch_minor) + "." + std::to_string(i.torch_patch)},
          {"cxx11_abi", i.cxx11_abi},
          {"cuda", i.cuda_version},
          {"compiler", i.compiler}};
}

// "loaded", "skipped" (another file of its plugin was chosen) or "refused".
const char* status_name(const PluginStatus& s) { return s.loaded ? "loaded" : s.skipped ? "skipped" : "refused"; }

}  // namespace

std::string plugins_text(const PluginHost& host) {
  std::ostringstream out;
  PluginInfo h = host_build_info();
  out << "host: mmdebias " << MMDEBIAS_VERSION << " (" << h.fingerprint_text() << ")\n";
  if (host.statuses().empty()) out << "no plugin files found on the search path\n";
  for (const auto& s : host.statuses()) {
    out << "\n" << (s.info.name.empty() ? "?" : s.info.name);
    if (!s.info.version.empty()) out << " " << s.info.version;
    out << "  [" << status_name(s) << "]\n";
    if (!s.path.empty()) out << "  file:        " << s.path.string() << "\n";
    if (!s.info.description.empty()) out << "  about:       " << s.info.description << "\n";
    if (s.info.abi_major) out << "  fingerprint: " << s.info.fingerprint_text() << "\n";
    if (!s.loaded) out << "  reason:      " << s.reason << "\n";
    if (!s.components.empty()) {
      out << "  components:\n";
      for (const auto& c : s.components) {
        const ComponentEntry* e = host.registry().find(c);
        out << "    " << c << "  (" << (e ? sdk::component_kind_name(e->kind) : "?") << ")";
        if (e && !e->decl.doc.empty()) out << "  " << e->decl.doc;
        out << "\n";
      }
    }
  }
  return out.str();
}

nlohmann::json plugins_json(const PluginHost& host) {
  nlohmann::json plugins = nlohmann::json::array();
  for (const auto& s : host.statuses()) {
    nlohmann::json p = info_json(s.info);
    p["path"] = s.path.string();
    p["status"] = status_name(s);
    p["reason"] = s.reason;
    nlohmann::json comps = nlohmann::json::array();
    for (const auto& c : s.components) {
      const ComponentEntry* e = host.registry().find(c);
      comps.push_back({{"name", c}, {"kind", e ? sdk::component_kind_name(e->kind) : "?"}, {"doc", e ? e->decl.doc : ""}});
    }
    p["components"] = comps;
    plugins.push_back(p);
  }
  nlohmann::json hostj = info_json(host_build_info());
  hostj["version"] = MMDEBIAS_VERSION;
  hostj["torch_cmake_prefix"] = MMDEBIAS_TORCH_PREFIX;  // a plugin configured with -DCMAKE_PREFIX_PATH=this matches
  return {{"host", hostj}, {"plugins", plugins}};
}

std::string describe_text(const PluginHost& host, const std::string& component) {
  const ComponentEntry& e = host.registry().get(component);
  std::ostringstream out;
  out << e.full_name << "  (" << sdk::component_kind_name(e.kind) << ")\n";
  if (!e.decl.doc.empty()) out << "  " << e.decl.doc << "\n";
  if (e.plugin) out << "  plugin: " << e.plugin->info().name << " " << e.plugin->info().version << " (" << e.plugin->path().string() << ")\n";
  out << "\noptions:\n";
  if (e.decl.schema.specs().empty()) out << "  (none)\n";
  for (const auto& s : e.decl.schema.specs()) {
    out << "  " << s.name << " (" << sdk::option_type_name(s.type) << ")";
    out << "  default: " << (s.value ? format_option_value(*s.value) : std::string("required"));
    std::string r = range_text(s);
    if (!r.empty()) out << "  " << r;
    out << "\n      " << s.doc << "\n";
  }
  out << "\nneeds:    " << (e.decl.needs.empty() ? "-" : join(e.decl.needs)) << "\n";
  out << "provides: " << (e.decl.provides.empty() ? "-" : join(e.decl.provides)) << "\n";
  return out.str();
}

nlohmann::json describe_json(const PluginHost& host, const std::string& component) {
  const ComponentEntry& e = host.registry().get(component);
  nlohmann::json options = nlohmann::json::array();
  for (const auto& s : e.decl.schema.specs()) {
    nlohmann::json o = {{"name", s.name}, {"type", sdk::option_type_name(s.type)}, {"doc", s.doc}};
    o["default"] = s.value ? format_option_value(*s.value) : "";
    o["required"] = !s.value.has_value();
    if (s.min) o["min"] = *s.min;
    if (s.max) o["max"] = *s.max;
    if (!s.choices.empty()) o["choices"] = s.choices;
    options.push_back(o);
  }
  return {{"name", e.full_name},       {"kind", sdk::component_kind_name(e.kind)}, {"doc", e.decl.doc},
          {"plugin", e.plugin ? e.plugin->info().name : ""}, {"options", options},
          {"needs", e.decl.needs},     {"provides", e.decl.provides}};
}

}  // namespace mmdebias::core
