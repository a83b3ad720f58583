#include "manifest/weight_keys.hpp"

#include "common/sha256.hpp"
#include "manifest/option_values.hpp"
#include "manifest/schema_check.hpp"
#include "manifest/yaml_options.hpp"
#include "mmdebias/core/errors.hpp"

namespace mmdebias::core::detail {
namespace {

// init: {path, key, prefix, rename, ignore, strict} or init: PATH.
std::optional<InitSpec> read_init(const YAML::Node& node, const std::string& path, const std::filesystem::path& base_dir,
                                  Diagnostics& diag) {
  InitSpec spec;
  if (node.IsScalar()) {
    spec.path = node.Scalar();
  } else {
    if (!expect_map(node, path, "a weight file path or a map {path, key, prefix, rename, ignore, strict}", diag)) return std::nullopt;
    CheckedOptions checked = check_map_options(node, path, init_schema(), {"rename"}, "init", diag);
    if (!checked.ok) return std::nullopt;
    const sdk::Options o(checked.values);
    spec.path = o.string("path");
    spec.key = o.string("key");
    spec.prefix = o.string("prefix");
    spec.ignore = o.get<std::vector<std::string>>("ignore");
    spec.strict = o.get<bool>("strict");
    spec.sha256 = o.string("sha256");
    if (auto rename = yaml_child(node, "rename")) {
      if (!rename->IsMap()) {
        diag.error(join_path(path, "rename"), *rename, "expected a map {old name prefix: new prefix}, got " + describe_yaml(*rename));
        return std::nullopt;
      }
      for (const auto& kv : *rename) {
        if (!kv.second.IsScalar() && !kv.second.IsNull()) {
          diag.error(join_path(path, "rename." + kv.first.Scalar()), kv.second, "expected a name prefix (or empty), got " + describe_yaml(kv.second));
          return std::nullopt;
        }
        spec.rename.emplace_back(kv.first.Scalar(), kv.second.IsNull() ? "" : kv.second.Scalar());
      }
    }
  }
  if (spec.path.empty()) {
    diag.error(path, node, "expected a weight file path");
    return std::nullopt;
  }
  const std::filesystem::path p(spec.path);
  spec.file = (p.is_absolute() ? p : base_dir / p).lexically_normal();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(spec.file, ec)) {
    diag.error(path, node, "no weight file " + spec.file.string());
    return std::nullopt;
  }
  std::string digest;
  try {
    digest = sha256_file(spec.file);
  } catch (const std::exception& e) {
    diag.error(path, node, e.what());
    return std::nullopt;
  }
  // A pinned digest (as every resolved.yaml records it, so a resume sees a changed file) must match.
  if (!spec.sha256.empty() && spec.sha256 != digest) {
    diag.error(join_path(path, "sha256"), yaml_child(node, "sha256").value_or(node),
               "the weight file " + spec.file.string() + " has changed: its sha256 is " + digest + ", the manifest pins " + spec.sha256);
    return std::nullopt;
  }
  spec.sha256 = digest;
  return spec;
}

YAML::Node init_yaml(const InitSpec& spec) {
  YAML::Node out(YAML::NodeType::Map);
  out["path"] = spec.file.string();
  if (!spec.key.empty()) out["key"] = spec.key;
  if (!spec.prefix.empty()) out["prefix"] = spec.prefix;
  if (!spec.rename.empty()) {
    YAML::Node r(YAML::NodeType::Map);
    for (const auto& [from, to] : spec.rename) r[from] = to;
    out["rename"] = r;
  }
  if (!spec.ignore.empty()) out["ignore"] = option_to_yaml(spec.ignore);
  out["strict"] = spec.strict;
  out["sha256"] = spec.sha256;
  return out;
}

}  // namespace

const std::vector<std::string>& weight_key_names() {
  static const std::vector<std::string> names = {"init", "trainable", "freeze"};
  return names;
}

const sdk::Schema& init_schema() {
  static const sdk::Schema schema = [] {
    sdk::Schema s;
    s.add_string("path", "", "The weight file: safetensors, or a state dict saved with torch.save (relative to the working directory).").required();
    s.add_string("key", "", "torch.save checkpoints: the entry of the saved dict that holds the state dict (e.g. state_dict).");
    s.add_string("prefix", "", "Stripped from the file's names; names without it are not this component's and are left out.");
    s.add_string_list("ignore", {}, "Glob patterns of names (after prefix and rename) to leave out, e.g. fc.*.");
    s.add_string("sha256", "", "The file's expected SHA-256 (hex); recorded in resolved.yaml, so a resume refuses a changed file.");
    s.add_bool("strict", true, "Refuse missing or unexpected names (as load_state_dict(strict=True)); shapes must always match.");
    return s;
  }();
  return schema;
}

void read_weight_keys(ParsedComponent& c, const std::filesystem::path& base_dir, Diagnostics& diag) {
  if (!c.node.IsMap()) return;
  bool ok = true;
  if (auto init = yaml_child(c.node, "init")) {
    c.weights.init = read_init(*init, join_path(c.path, "init"), base_dir, diag);
    ok = ok && c.weights.init.has_value();
    if (c.weights.init && c.ok) c.resolved["init"] = init_yaml(*c.weights.init);
  }
  auto read_value = [&](const std::string& key, sdk::OptionType type) -> std::optional<sdk::OptionValue> {
    auto node = yaml_child(c.node, key);
    if (!node) return std::nullopt;
    std::string problem;
    auto v = option_from_yaml(*node, type, problem);
    if (!v) { diag.error(join_path(c.path, key), *node, problem); ok = false; }
    return v;
  };
  if (auto v = read_value("trainable", sdk::OptionType::Bool)) {
    c.weights.trainable = std::get<bool>(*v);
    if (c.ok) c.resolved["trainable"] = c.weights.trainable;
  }
  if (auto v = read_value("freeze", sdk::OptionType::StringList)) {
    c.weights.freeze = std::get<std::vector<std::string>>(*v);
    if (!c.weights.trainable && !c.weights.freeze.empty()) {
      diag.error(join_path(c.path, "freeze"), *yaml_child(c.node, "freeze"), "trainable: false already freezes every parameter");
      ok = false;
    }
    if (c.ok) c.resolved["freeze"] = option_to_yaml(*v);
  }
  c.ok = c.ok && ok;
}

}  // namespace mmdebias::core::detail
