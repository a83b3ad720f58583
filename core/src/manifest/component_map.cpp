// Reading component maps ({type: plugin.component, name, lr, weight_decay, ...options}) from a manifest.
#include <algorithm>
#include <set>

#include "common/text.hpp"
#include "manifest/host_schema.hpp"
#include "manifest/option_values.hpp"
#include "manifest/parsed.hpp"
#include "manifest/weight_keys.hpp"
#include "manifest/yaml_options.hpp"

namespace mmdebias::core::detail {
namespace {

std::string plural(sdk::ComponentKind kind) { return std::string(sdk::component_kind_name(kind)) + "s"; }

// "an encoder", "a fusion".
std::string with_article(sdk::ComponentKind kind) {
  std::string name = sdk::component_kind_name(kind);
  return (std::string("aeiou").find(name[0]) != std::string::npos ? "an " : "a ") + name;
}

// "unknown encoder type 'p.mpl'; registered encoders: ...; did you mean 'p.mlp'?"
std::string unknown_type_message(const std::string& type, sdk::ComponentKind kind, const Registry& registry) {
  std::vector<std::string> names = registry.names(kind);
  std::string msg;
  if (const ComponentEntry* other = registry.find(type)) {
    msg = "'" + type + "' is " + with_article(other->kind) + ", not " + with_article(kind);
  } else {
    msg = "unknown " + std::string(sdk::component_kind_name(kind)) + " type '" + type + "'";
    auto dot = type.find('.');
    if (dot == std::string::npos) {
      msg += " (types are written <plugin>.<component>)";
    } else {
      std::string plugin = type.substr(0, dot) + ".";
      bool loaded = false;
      for (const auto& n : registry.names()) loaded = loaded || n.compare(0, plugin.size(), plugin) == 0;
      if (!loaded) msg += " (no plugin '" + type.substr(0, dot) + "' is loaded)";
    }
  }
  if (names.empty()) msg += "; no " + plural(kind) + " are registered";
  else msg += "; registered " + plural(kind) + ": " + join(names);
  return msg + did_you_mean(type, names);
}

bool valid_instance_name(const std::string& s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

// Reads lr or weight_decay: a float >= 0.
std::optional<double> read_rate(const YAML::Node& map, const std::string& key, const std::string& path,
                                Diagnostics& diag, bool& ok) {
  auto value = yaml_child(map, key);
  if (!value) return std::nullopt;
  sdk::OptionSpec spec{key, sdk::OptionType::Float, {}, 0.0, {}, {}, ""};
  std::string problem;
  auto v = option_from_yaml(*value, spec.type, problem);
  if (!v) {
    diag.error(join_path(path, key), *value, problem);
    ok = false;
    return std::nullopt;
  }
  auto problems = check_option_value(spec, *v);
  for (const auto& p : problems) diag.error(join_path(path, key), *value, p);
  if (!problems.empty()) { ok = false; return std::nullopt; }
  return std::get<double>(*v);
}

// Reads a dataset's on_bad_sample: stop (the default) or skip.
std::string read_bad_sample_policy(const YAML::Node& map, const std::string& path, Diagnostics& diag, bool& ok) {
  auto value = yaml_child(map, "on_bad_sample");
  if (!value) return "";  // not written into resolved.yaml: runs that never set it keep theirs as they were
  if (!value->IsScalar() || (value->Scalar() != "stop" && value->Scalar() != "skip")) {
    diag.error(join_path(path, "on_bad_sample"), *value, "expected stop (a bad sample ends the run, naming it) or skip "
               "(it is left out and listed in summary.json), got " + describe_yaml(*value));
    ok = false;
    return "stop";
  }
  return value->Scalar();
}

}  // namespace

ParsedComponent parse_component(const YAML::Node& node, const std::string& path, sdk::ComponentKind kind,
                                bool list_entry, const std::string& instance, const Registry& registry,
                                Diagnostics& diag) {
  ParsedComponent c;
  c.path = path;
  c.instance = instance;
  c.node = node;
  if (!node.IsMap()) {
    diag.error(path, node, "expected " + with_article(kind) + " component map {type: <plugin>.<component>, ...}, got " +
                               describe_yaml(node));
    return c;
  }
  bool ok = true;
  auto type_node = yaml_child(node, "type");
  std::string type;
  if (!type_node) {
    diag.error(join_path(path, "type"), node, "missing required key");
    ok = false;
  } else if (!type_node->IsScalar() || type_node->Scalar().empty()) {
    diag.error(join_path(path, "type"), *type_node, "expected a component type <plugin>.<component>, got " +
                                                        describe_yaml(*type_node));
    ok = false;
  } else {
    type = type_node->Scalar();
    const ComponentEntry* entry = registry.find(type);
    if (!entry || entry->kind != kind) {
      diag.error(join_path(path, "type"), *type_node, unknown_type_message(type, kind, registry));
      ok = false;
    } else {
      c.entry = entry;
    }
  }

  std::vector<std::string> reserved = {"type"};
  if (list_entry) reserved.push_back("name");
  if (component_kind_is_trained(kind)) {
    reserved.push_back("lr");
    reserved.push_back("weight_decay");
    for (const auto& k : weight_key_names()) reserved.push_back(k);
  }
  if (list_entry) {
    if (auto name = yaml_child(node, "name")) {
      if (!name->IsScalar() || !valid_instance_name(name->Scalar())) {
        diag.error(join_path(path, "name"), *name,
                   "instance names use letters, digits, '_' and '-', got " + describe_yaml(*name));
        ok = false;
      }
    }
  }
  std::string on_bad_sample;
  if (kind == sdk::ComponentKind::Dataset) {
    reserved.push_back("on_bad_sample");
    on_bad_sample = read_bad_sample_policy(node, path, diag, ok);
  }
  if (component_kind_is_trained(kind)) {
    c.lr = read_rate(node, "lr", path, diag, ok);
    c.weight_decay = read_rate(node, "weight_decay", path, diag, ok);
  }
  if (!c.entry) return c;  // options cannot be checked without the schema; no cascade of guesses

  const sdk::Schema& schema = c.entry->decl.schema;
  CheckedOptions checked = check_map_options(node, path, schema, reserved, type + " options", diag);
  if (!checked.ok || !ok) return c;

  c.options = sdk::Options(checked.values);
  c.resolved = YAML::Node(YAML::NodeType::Map);
  c.resolved["type"] = type;
  if (list_entry) c.resolved["name"] = instance.substr(instance.rfind('.') + 1);
  if (c.lr) c.resolved["lr"] = option_to_yaml(*c.lr);
  if (c.weight_decay) c.resolved["weight_decay"] = option_to_yaml(*c.weight_decay);
  for (const auto& spec : schema.specs()) c.resolved[spec.name] = option_to_yaml(checked.values.at(spec.name));
  if (!on_bad_sample.empty()) c.resolved["on_bad_sample"] = on_bad_sample;
  c.ok = true;
  return c;
}

std::vector<ParsedComponent> parse_component_list(const std::optional<YAML::Node>& node, const std::string& path,
                                                  const std::string& instance_prefix, sdk::ComponentKind kind,
                                                  const Registry& registry, Diagnostics& diag) {
  std::vector<ParsedComponent> out;
  if (!node || node->IsNull()) return out;
  if (!node->IsSequence()) {
    diag.error(path, *node, "expected a list of " + std::string(sdk::component_kind_name(kind)) +
                                " component maps, got " + describe_yaml(*node));
    return out;
  }
  std::map<std::string, std::string> used;  // instance name -> path of its first user
  for (size_t i = 0; i < node->size(); ++i) {
    const YAML::Node entry = (*node)[i];
    const std::string entry_path = path + "." + std::to_string(i);
    std::string name;
    if (auto n = yaml_child(entry, "name"); n && n->IsScalar()) {
      name = n->Scalar();
    } else if (auto t = yaml_child(entry, "type"); t && t->IsScalar()) {
      const std::string& type = t->Scalar();
      name = type.substr(type.find('.') == std::string::npos ? 0 : type.find('.') + 1);
    }
    if (name.empty()) name = std::to_string(i);
    ParsedComponent c = parse_component(entry, entry_path, kind, true, instance_prefix + "." + name, registry, diag);
    auto [it, fresh] = used.emplace(name, entry_path);
    if (!fresh) {
      diag.error(entry_path, entry, "instance name '" + name + "' is already used by " + it->second +
                                        "; give one of them a distinct `name`");
      c.ok = false;
    }
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<const ParsedComponent*> ParsedManifest::all() const {
  std::vector<const ParsedComponent*> out;
  if (data) out.push_back(&*data);
  for (const auto& e : encoders) out.push_back(&e);
  if (fusion) out.push_back(&*fusion);
  for (const auto* list : {&estimators, &interventions, &scorers, &sinks})
    for (const auto& c : *list) out.push_back(&c);
  return out;
}

const ParsedComponent* ParsedManifest::by_instance(const std::string& instance) const {
  for (const auto* c : all())
    if (c->instance == instance) return c;
  return nullptr;
}

}  // namespace mmdebias::core::detail
