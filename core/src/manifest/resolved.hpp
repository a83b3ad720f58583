// A manifest after validation: the config with every default filled, plus the run's provenance (plugins,
// hook order), and its YAML form as written to the run directory and into every checkpoint.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "mmdebias/core/plugin_host.hpp"
#include "mmdebias/sdk/options.hpp"

namespace mmdebias::core {

/// One plugin a manifest uses, as recorded in the resolved manifest.
struct PluginProvenance {
  std::string name;         ///< Plugin name.
  std::string version;      ///< Plugin version.
  std::string path;         ///< The binary that was loaded (absolute).
  std::string sha256;       ///< SHA-256 of the binary.
  std::string abi;          ///< SDK ABI it was built against ("1.0").
  std::string fingerprint;  ///< Build fingerprint text.
};

/// One library the host handed to dlopen (so its constructors ran), whether or not it was then accepted.
struct LibraryProvenance {
  std::string path;     ///< The file (absolute).
  std::string sha256;   ///< SHA-256 of its bytes, read before it was opened.
  bool loaded = false;  ///< Accepted as a plugin (false: refused after opening, e.g. no entry symbol, handshake).
};

/// The instances that run at one hook, in the order the engine calls them.
struct HookSlot {
  std::string step;                     ///< Number in "One training step" ("1".."8", "4a"); slots come in call order.
  std::string hook;                     ///< "on_batch", "on_features", ..., "predict".
  std::vector<std::string> instances;   ///< Instance paths ("interventions.reweight"), manifest order.
  std::vector<std::string> types;       ///< Component type of each instance ("std.concat"), same order.
};

/// A manifest after validation: every default filled in, plus the provenance of the run.
struct ResolvedManifest {
  YAML::Node config;                             ///< The manifest with defaults filled (host sections and components).
  std::map<std::string, sdk::Options> sections;  ///< Typed plain options of "plugins", "train", "eval", "run".
  std::vector<PluginProvenance> plugins;         ///< Plugins used, by name.
  std::vector<LibraryProvenance> libraries;      ///< Every library opened while loading plugins, in load order.
  std::vector<HookSlot> hooks;                   ///< Hook order (every hook listed, possibly empty).
};

/// Every library host opened, in load order (what ResolvedManifest::libraries records).
std::vector<LibraryProvenance> library_provenance(const PluginHost& host);

/// The resolved manifest as YAML: the config followed by a `provenance` section (host, plugins, libraries, hook order).
std::string emit_yaml(const ResolvedManifest& resolved);

/// The hook order as readable YAML comment lines ("#   2 on_features   interventions.0 (myplugin.reweight)"), one
/// line per hook and component, so `validate` output stays valid YAML.
std::string format_hook_order(const ResolvedManifest& resolved);

}  // namespace mmdebias::core
