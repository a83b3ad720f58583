// Reading a whole manifest into checked pieces: version, host sections, component maps; and the resolved config.
#include "manifest/parsed.hpp"

#include <set>

#include "manifest/host_schema.hpp"
#include "manifest/plugin_settings.hpp"
#include "manifest/weight_keys.hpp"
#include "manifest/yaml_options.hpp"
#include "plugin/pins.hpp"

namespace mmdebias::core::detail {
namespace {

std::vector<std::string> structured_names(const HostSection& s) {
  std::vector<std::string> out;
  for (const auto& k : s.structured) out.push_back(k.name);
  return out;
}

// A plain host section (plugins, train, eval, run) under the top level; absent = every default.
CheckedOptions read_section(const YAML::Node& root, const std::string& name, Diagnostics& diag) {
  const HostSection& s = host_section(name);
  auto node = yaml_child(root, name);
  YAML::Node map = node ? *node : YAML::Node();
  if (node && !expect_map(*node, name, "a map of " + name + " settings", diag)) return {{}, false};
  return check_map_options(map, name, s.options, structured_names(s), name, diag);
}

void check_version(const YAML::Node& root, Diagnostics& diag) {
  auto node = yaml_child(root, "mmdebias");
  if (!node) {
    diag.error("mmdebias", root, "missing required key (write `mmdebias: " + std::to_string(kManifestVersion) +
                                     "` at the top)");
    return;
  }
  std::string problem;
  auto v = option_from_yaml(*node, sdk::OptionType::Int, problem);
  if (!v) {
    diag.error("mmdebias", *node, problem);
  } else if (std::get<int64_t>(*v) != kManifestVersion) {
    diag.error("mmdebias", *node, "unsupported manifest version " + std::to_string(std::get<int64_t>(*v)) +
                                      "; this host reads version " + std::to_string(kManifestVersion));
  }
}

// plugins.paths are written absolute into the resolved config: a run directory's manifest.yaml then names the same
// files whatever directory it is resumed from. Pins are written lowercase.
void read_plugins(const Manifest& manifest, ParsedManifest& parsed, Diagnostics& diag) {
  CheckedOptions& section = parsed.sections["plugins"] = read_section(manifest.root(), "plugins", diag);
  if (auto paths = section.values.find("paths"); paths != section.values.end())
    for (std::string& entry : std::get<std::vector<std::string>>(paths->second))
      if (!entry.empty()) entry = resolve_plugin_path(manifest, entry).string();
  auto plugins = yaml_child(manifest.root(), "plugins");
  if (!plugins) return;
  auto pins = yaml_child(*plugins, "sha256");
  if (!pins || pins->IsNull()) return;
  if (!expect_map(*pins, "plugins.sha256", "a map <name> -> SHA-256 digest, pinning the file mmdebias-<name>.so", diag)) return;
  for (auto it = pins->begin(); it != pins->end(); ++it) {
    const std::string name = it->first.IsScalar() ? it->first.Scalar() : "?";
    auto pin = it->second.IsScalar() ? normalized_pin(it->second.Scalar()) : std::nullopt;
    if (!is_pin_key(name)) {
      diag.error("plugins.sha256", it->first, "key '" + name + "' is not the <name> of a file mmdebias-<name>.so");
    } else if (!pin) {
      diag.error("plugins.sha256." + name, it->second,
                 "expected a SHA-256 digest (64 hex digits), got " + describe_yaml(it->second));
    } else {
      parsed.sha256[name] = *pin;
    }
  }
}

void read_train(const YAML::Node& root, ParsedManifest& parsed, Diagnostics& diag) {
  CheckedOptions train = read_section(root, "train", diag);
  auto betas = train.values.find("betas");
  if (betas != train.values.end()) {
    const auto& b = std::get<std::vector<double>>(betas->second);
    if (b.size() != 2) {
      auto section = yaml_child(root, "train");
      auto node = section ? yaml_child(*section, "betas") : std::nullopt;
      diag.error("train.betas", node ? *node : root, "expected two values [beta1, beta2], got " + std::to_string(b.size()));
      train.ok = false;
    }
  }
  parsed.sections["train"] = train;
}

void read_model(const YAML::Node& root, ParsedManifest& parsed, const Registry& registry, Diagnostics& diag) {
  auto model = yaml_child(root, "model");
  if (!model) return;  // reported as a missing required key
  if (!expect_map(*model, "model", "a map with encoders and fusion", diag)) return;
  parsed.has_model = true;
  parsed.model_node = *model;
  const HostSection& s = host_section("model");
  check_map_options(*model, "model", sdk::Schema{}, structured_names(s), "model", diag);

  if (auto enc = yaml_child(*model, "encoders"); enc && !enc->IsNull()) {
    parsed.encoders_node = *enc;
    if (!expect_map(*enc, "model.encoders", "a map modality -> encoder component map", diag)) {
      parsed.encoders_ok = false;
    } else {
      std::set<std::string> seen;
      for (auto it = enc->begin(); it != enc->end(); ++it) {
        const std::string m = it->first.IsScalar() ? it->first.Scalar() : "?";
        if (!seen.insert(m).second) {
          diag.error("model.encoders." + m, it->first, "duplicate key '" + m + "'");
          parsed.encoders_ok = false;
          continue;
        }
        ParsedComponent c = detail::parse_component(it->second, "model.encoders." + m, sdk::ComponentKind::Encoder,
                                                    false, "encoders." + m, registry, diag);
        c.modality = m;
        parsed.encoders.push_back(std::move(c));
      }
    }
  }
  if (auto fusion = yaml_child(*model, "fusion")) {
    parsed.fusion = detail::parse_component(*fusion, "model.fusion", sdk::ComponentKind::Fusion, false, "fusion",
                                            registry, diag);
  } else {
    diag.error("model.fusion", *model, "missing required key");
  }
}

YAML::Node section_yaml(const sdk::Schema& schema, const CheckedOptions& checked) {
  YAML::Node out(YAML::NodeType::Map);
  for (const auto& spec : schema.specs()) out[spec.name] = option_to_yaml(checked.values.at(spec.name));
  return out;
}

YAML::Node list_yaml(const std::vector<ParsedComponent>& list) {
  YAML::Node out(YAML::NodeType::Sequence);
  for (const auto& c : list) out.push_back(c.resolved);
  return out;
}

}  // namespace


ParsedManifest parse_manifest(const Manifest& manifest, const Registry& registry, Diagnostics& diag) {
  const YAML::Node root = manifest.root();
  if (!root.IsMap()) {
    diag.error("", root, root.IsNull() ? "the manifest is empty; it needs at least mmdebias, data and model"
                                       : "expected a map of sections (mmdebias, data, model, ...), got " +
                                             describe_yaml(root));
    diag.throw_if_any();
  }
  const HostSection& top = host_section("");
  check_map_options(root, "", sdk::Schema{}, top.key_names(), "the manifest", diag);
  check_version(root, diag);
  for (const auto& k : top.structured)
    if (k.required && !yaml_child(root, k.name)) diag.error(k.name, root, "missing required key");

  ParsedManifest parsed;
  read_plugins(manifest, parsed, diag);
  read_train(root, parsed, diag);
  parsed.sections["eval"] = read_section(root, "eval", diag);
  parsed.sections["run"] = read_section(root, "run", diag);
  if (auto data = yaml_child(root, "data"))
    parsed.data = detail::parse_component(*data, "data", sdk::ComponentKind::Dataset, false, "data", registry, diag);
  read_model(root, parsed, registry, diag);
  parsed.estimators = detail::parse_component_list(yaml_child(root, "estimators"), "estimators", "estimators",
                                                   sdk::ComponentKind::BiasEstimator, registry, diag);
  parsed.interventions = detail::parse_component_list(yaml_child(root, "interventions"), "interventions",
                                                      "interventions", sdk::ComponentKind::Intervention, registry, diag);
  std::optional<YAML::Node> scorers;
  if (auto eval = yaml_child(root, "eval")) scorers = yaml_child(*eval, "scorers");
  parsed.scorers = detail::parse_component_list(scorers, "eval.scorers", "scorers", sdk::ComponentKind::Scorer,
                                                registry, diag);
  std::optional<YAML::Node> sinks;
  if (auto run = yaml_child(root, "run")) sinks = yaml_child(*run, "sinks");
  parsed.sinks = detail::parse_component_list(sinks, "run.sinks", "sinks", sdk::ComponentKind::Sink, registry, diag);
  // Weight files, like data.files's root and std.torchscript's path, are relative to the working directory (as
  // MMEngine's load_from): they sit beside a component's other options, which a plugin reads without the manifest.
  const std::filesystem::path cwd = std::filesystem::current_path();
  for (auto* list : {&parsed.encoders, &parsed.estimators, &parsed.interventions})
    for (auto& c : *list) detail::read_weight_keys(c, cwd, diag);
  if (parsed.fusion) detail::read_weight_keys(*parsed.fusion, cwd, diag);
  for (const auto* c : parsed.all()) parsed.all_types_resolved = parsed.all_types_resolved && c->entry;

  return parsed;
}

YAML::Node resolved_config(const ParsedManifest& p) {
  YAML::Node cfg(YAML::NodeType::Map);
  cfg["mmdebias"] = kManifestVersion;
  YAML::Node plugins = section_yaml(host_section("plugins").options, p.sections.at("plugins"));
  YAML::Node pins(YAML::NodeType::Map);
  for (const auto& [name, digest] : p.sha256) pins[name] = digest;
  if (p.sha256.empty()) pins.SetStyle(YAML::EmitterStyle::Flow);
  plugins["sha256"] = pins;
  cfg["plugins"] = plugins;
  cfg["data"] = p.data->resolved;
  YAML::Node model(YAML::NodeType::Map);
  YAML::Node encoders(YAML::NodeType::Map);
  for (const auto& e : p.encoders) encoders[e.modality] = e.resolved;
  if (p.encoders.empty()) encoders.SetStyle(YAML::EmitterStyle::Flow);
  model["encoders"] = encoders;
  model["fusion"] = p.fusion->resolved;
  cfg["model"] = model;
  cfg["estimators"] = list_yaml(p.estimators);
  cfg["interventions"] = list_yaml(p.interventions);
  cfg["train"] = section_yaml(host_section("train").options, p.sections.at("train"));
  YAML::Node eval = section_yaml(host_section("eval").options, p.sections.at("eval"));
  eval["scorers"] = list_yaml(p.scorers);
  cfg["eval"] = eval;
  YAML::Node run = section_yaml(host_section("run").options, p.sections.at("run"));
  run["sinks"] = list_yaml(p.sinks);
  cfg["run"] = run;
  return cfg;
}

std::vector<PluginProvenance> plugin_provenance(const ParsedManifest& p) {
  std::map<std::string, PluginProvenance> by_name;
  for (const auto* c : p.all()) {
    if (!c->entry || !c->entry->plugin) continue;
    const PluginLibrary& lib = *c->entry->plugin;
    const PluginInfo& info = lib.info();
    if (by_name.count(info.name)) continue;
    by_name[info.name] = {info.name, info.version, lib.path().string(), lib.sha256(),
                          std::to_string(info.abi_major) + "." + std::to_string(info.abi_minor),
                          info.fingerprint_text()};
  }
  std::vector<PluginProvenance> out;
  for (auto& [name, prov] : by_name) out.push_back(std::move(prov));
  return out;
}

}  // namespace mmdebias::core::detail
