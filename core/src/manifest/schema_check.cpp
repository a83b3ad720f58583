#include "manifest/schema_check.hpp"

#include <algorithm>

#include "common/text.hpp"
#include "manifest/option_values.hpp"
#include "manifest/yaml_options.hpp"

namespace mmdebias::core {

std::string join_path(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

bool expect_map(const YAML::Node& node, const std::string& key_path, const std::string& what, Diagnostics& diag) {
  if (node.IsMap() || node.IsNull()) return true;
  diag.error(key_path, node, "expected " + what + ", got " + describe_yaml(node));
  return false;
}

CheckedOptions check_map_options(const YAML::Node& map, const std::string& key_path, const sdk::Schema& schema,
                                 const std::vector<std::string>& other_keys, const std::string& context,
                                 Diagnostics& diag) {
  CheckedOptions out;
  std::vector<std::string> candidates;
  for (const auto& s : schema.specs()) candidates.push_back(s.name);
  candidates.insert(candidates.end(), other_keys.begin(), other_keys.end());

  std::map<std::string, YAML::Node> present;  // first occurrence of each key
  if (map.IsMap()) {
    for (auto it = map.begin(); it != map.end(); ++it) {
      const YAML::Node key = it->first;
      if (!key.IsScalar()) {
        diag.error(key_path, key, "keys must be plain names, got " + describe_yaml(key));
        out.ok = false;
        continue;
      }
      const std::string name = key.Scalar();
      const std::string path = join_path(key_path, name);
      if (present.count(name)) {
        const YAML::Node& first = present[name];
        diag.error(path, key, "duplicate key '" + name + "' (first at line " +
                                  std::to_string(first.Mark().line + 1) + ")");
        out.ok = false;
        continue;
      }
      present[name] = key;
      const sdk::OptionSpec* spec = schema.find(name);
      if (!spec) {
        if (std::find(other_keys.begin(), other_keys.end(), name) == other_keys.end()) {
          diag.error(path, key, "unknown key '" + name + "' in " + context + did_you_mean(name, candidates));
          out.ok = false;
        }
        continue;
      }
      const YAML::Node value = it->second;
      std::string problem;
      auto v = option_from_yaml(value, spec->type, problem);
      if (!v) {
        diag.error(path, value, problem);
        out.ok = false;
        continue;
      }
      auto problems = check_option_value(*spec, *v);
      for (const auto& p : problems) diag.error(path, value, p);
      if (!problems.empty()) { out.ok = false; continue; }
      out.values[name] = *v;
    }
  }
  for (const auto& s : schema.specs()) {
    if (present.count(s.name)) continue;
    if (s.value) {
      out.values[s.name] = *s.value;
    } else {
      diag.error(join_path(key_path, s.name), map, "missing required key");
      out.ok = false;
    }
  }
  return out;
}

}  // namespace mmdebias::core
