// Filling and checking option values against a component's schema (no YAML here; see manifest).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "mmdebias/sdk/options.hpp"

namespace mmdebias::core {

/// Problems with one value against its spec (type, range, choices), as messages; empty when valid.
std::vector<std::string> check_option_value(const sdk::OptionSpec& spec, const sdk::OptionValue& value);

/// The given values completed with the schema's defaults; throws InputError on an unknown name,
/// a missing required option, or an invalid value.
sdk::Options complete_options(const sdk::Schema& schema, std::map<std::string, sdk::OptionValue> given = {});

/// A value as written in YAML and docs ("0.5", "[16, 32]", "relu", "true").
std::string format_option_value(const sdk::OptionValue& value);

}  // namespace mmdebias::core
