// Internal to validation: a manifest parsed into checked pieces, before and while the pipeline is built.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "mmdebias/core/diagnostics.hpp"
#include "mmdebias/core/registry.hpp"
#include "mmdebias/core/schema_check.hpp"
#include "mmdebias/core/validate.hpp"

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

/// Constructs the pipeline in order, reporting construction failures and model mismatches; returns true when
/// the dataset, encoders and fusion were all built (the later checks need them).
bool build_pipeline(const ParsedManifest& parsed, const Registry& registry, const Manifest& manifest,
                    Diagnostics& diag, BuiltPipeline& out);

/// Needs vs provides, exclusive hooks and attention sites (only on a built model).
void check_pipeline(const ParsedManifest& parsed, const BuiltPipeline& built, const Registry& registry,
                    Diagnostics& diag);

/// Which instances run at each hook, in manifest order.
std::vector<HookSlot> hook_order(const BuiltPipeline& built);

}  // namespace mmdebias::core::detail
