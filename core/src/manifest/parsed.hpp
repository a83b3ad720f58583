// A manifest parsed into checked pieces: host sections and component maps, before the pipeline is built.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "manifest/diagnostics.hpp"
#include "manifest/resolved.hpp"
#include "manifest/schema_check.hpp"
#include "mmdebias/core/manifest.hpp"
#include "plugin/registry.hpp"
#include "weights/weight_settings.hpp"

namespace mmdebias::core::detail {

/// One component map as read from the manifest.
struct ParsedComponent {
  std::string path;       ///< Manifest key path ("interventions.0", "model.encoders.image").
  std::string instance;   ///< Instance path ("interventions.claimer", "encoders.image", "fusion", "data").
  std::string modality;   ///< Encoders: the modality.
  YAML::Node node;        ///< The map (for its location).
  const ComponentEntry* entry = nullptr;  ///< Null when the type did not resolve.
  bool ok = false;        ///< Type resolved and every key valid.
  sdk::Options options;   ///< Validated options (when ok).
  std::optional<double> lr, weight_decay;
  WeightSettings weights; ///< init / trainable / freeze (trained kinds; read by read_weight_keys).
  YAML::Node resolved;    ///< The component map with defaults filled (when ok).
};

/// The manifest read section by section.
struct ParsedManifest {
  std::map<std::string, CheckedOptions> sections;  ///< "plugins", "train", "eval", "run".
  std::map<std::string, std::string> sha256;       ///< plugins.sha256 (valid entries).
  std::optional<ParsedComponent> data;
  bool has_model = false;
  YAML::Node model_node;                            ///< model (for locations).
  std::optional<YAML::Node> encoders_node;          ///< model.encoders when present.
  std::vector<ParsedComponent> encoders;            ///< Manifest order.
  std::optional<ParsedComponent> fusion;
  std::vector<ParsedComponent> estimators, interventions, scorers;
  std::vector<ParsedComponent> sinks;               ///< run.sinks, manifest order.
  bool all_types_resolved = true;                   ///< Every component's type was found with the right kind.
  bool encoders_ok = true;                          ///< model.encoders was a map and every entry was ok.

  /// Every component, in pipeline order.
  std::vector<const ParsedComponent*> all() const;
  /// The component whose instance path is instance, or nullptr.
  const ParsedComponent* by_instance(const std::string& instance) const;
};

/// Reads one component map of kind at path. list_entry enables `name`; instance_prefix names list entries.
ParsedComponent parse_component(const YAML::Node& node, const std::string& path, sdk::ComponentKind kind,
                                bool list_entry, const std::string& instance, const Registry& registry,
                                Diagnostics& diag);

/// Reads a list of component maps (absent or null = empty), giving each its instance name; reports duplicates.
std::vector<ParsedComponent> parse_component_list(const std::optional<YAML::Node>& node, const std::string& path,
                                                  const std::string& instance_prefix, sdk::ComponentKind kind,
                                                  const Registry& registry, Diagnostics& diag);

/// Reads every section and component map of a manifest (nothing is constructed yet); problems go to diag.
ParsedManifest parse_manifest(const Manifest& manifest, const Registry& registry, Diagnostics& diag);
/// The manifest with every default filled, in the section order of the reference.
YAML::Node resolved_config(const ParsedManifest& parsed);
/// The plugins the manifest's components come from, by name.
std::vector<PluginProvenance> plugin_provenance(const ParsedManifest& parsed);
}  // namespace mmdebias::core::detail
