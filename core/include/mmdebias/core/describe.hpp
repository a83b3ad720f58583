// What `mmdebias plugins` and `mmdebias describe` print: plugin statuses and component references.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "mmdebias/core/plugin_host.hpp"

namespace mmdebias::core {

/// One block per plugin file: name, version, ABI, fingerprint, status, reason, components.
std::string plugins_text(const PluginHost& host);

/// The same as JSON: {"host": {...}, "plugins": [{...}]}.
nlohmann::json plugins_json(const PluginHost& host);

/// A registered component's kind, doc, options (type, default, range or choices, doc), needs and provides;
/// throws InputError naming the nearest registered name when `component` is unknown.
std::string describe_text(const PluginHost& host, const std::string& component);

/// The same as JSON.
nlohmann::json describe_json(const PluginHost& host, const std::string& component);

}  // namespace mmdebias::core
