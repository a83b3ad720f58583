// Converting YAML nodes to typed option values and back: the strict reading every manifest value goes through.
#pragma once

#include <optional>
#include <string>

#include <yaml-cpp/yaml.h>

#include "mmdebias/sdk/options.hpp"

namespace mmdebias::core {

/// How a node reads in a message: "'abc'", "a map", "a list", "null".
std::string describe_yaml(const YAML::Node& node);

/// Converts node to a value of the given type. On failure returns nullopt and sets problem
/// ("expected int, got 'abc'"); choices and ranges are not checked here (see check_option_value).
/// Bool accepts true/false/yes/no/on/off; int only decimal integers; float any decimal number;
/// string and enum any scalar; lists a YAML sequence of such scalars.
std::optional<sdk::OptionValue> option_from_yaml(const YAML::Node& node, sdk::OptionType type, std::string& problem);

/// The value as a YAML node (lists in flow style, numbers in their shortest exact form).
YAML::Node option_to_yaml(const sdk::OptionValue& value);

/// Shortest decimal text that reads back as exactly v ("0.001", "1e-08", "5").
std::string format_double(double v);

}  // namespace mmdebias::core
