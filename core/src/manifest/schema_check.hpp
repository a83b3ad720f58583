// Checking one YAML map against an sdk::Schema: the rule shared by host sections and component options.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "manifest/diagnostics.hpp"
#include "mmdebias/sdk/options.hpp"

namespace mmdebias::core {

/// The options read from one map.
struct CheckedOptions {
  std::map<std::string, sdk::OptionValue> values;  ///< Every declared option (defaults filled) that is valid.
  bool ok = true;                                  ///< False when any problem was reported.
};

/// Checks map at key_path against schema, reporting into diag: duplicate keys, unknown keys ("unknown key
/// 'x' in <context>; did you mean 'y'?"; keys in other_keys are the caller's and not reported), wrong types,
/// out-of-range values, bad choices and missing required options. A Null map counts as empty.
CheckedOptions check_map_options(const YAML::Node& map, const std::string& key_path, const sdk::Schema& schema,
                                 const std::vector<std::string>& other_keys, const std::string& context,
                                 Diagnostics& diag);

/// Reports "expected <what>, got ..." and returns false unless node is a map or Null (an empty map).
bool expect_map(const YAML::Node& node, const std::string& key_path, const std::string& what, Diagnostics& diag);

/// parent + "." + key (or key at the top).
std::string join_path(const std::string& parent, const std::string& key);

}  // namespace mmdebias::core
