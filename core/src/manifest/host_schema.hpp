// The host-side sections of the manifest (everything that is not a component's options), declared with
// sdk::Schema so they are checked like component options and documented by the same generator.
#pragma once

#include <string>
#include <vector>

#include "mmdebias/sdk/options.hpp"
#include "mmdebias/sdk/registrar.hpp"

namespace mmdebias::core {

/// The manifest format version this host reads (`mmdebias: 1`).
inline constexpr int64_t kManifestVersion = 1;

/// What a structured key (one that is not a plain option) holds.
enum class KeyShape {
  Section,        ///< A nested host section (see host_section()).
  Component,      ///< One component map of `kind`.
  ComponentList,  ///< A list of component maps of `kind`.
  ComponentMap,   ///< A map name -> component map of `kind` (model.encoders: modality -> encoder).
  StringMap,      ///< A map of strings (plugins.sha256: plugin name -> digest).
};

/// A key of a host section whose value is not a plain option; checked by the validator.
struct StructuredKey {
  std::string name;                 ///< Key.
  KeyShape shape = KeyShape::Section;  ///< What it holds.
  sdk::ComponentKind kind = sdk::ComponentKind::Dataset;  ///< Component kind (component shapes only).
  bool required = false;            ///< True when the manifest must have it.
  std::string default_text;         ///< Default as shown in the docs ("[]", "{}", "see below").
  std::string doc;                  ///< One line.
};

/// One host section: plain options (a Schema) and structured keys.
struct HostSection {
  std::string name;                      ///< Dotted path ("train", "model"; "" for the top level).
  std::string doc;                       ///< One paragraph.
  sdk::Schema options;                   ///< The plain keys, with types, defaults and bounds.
  std::vector<StructuredKey> structured; ///< The other keys.

  /// Every key name (options, then structured keys), for unknown-key suggestions.
  std::vector<std::string> key_names() const;
  /// The structured key called name, or nullptr.
  const StructuredKey* find_structured(const std::string& key) const;
};

/// The section at path ("", "plugins", "model", "train", "eval", "run"); throws std::out_of_range otherwise.
const HostSection& host_section(const std::string& path);

/// Every host section in documentation order (top level first).
const std::vector<HostSection>& host_sections();

/// Keys every component map may hold besides its options.
struct ReservedKey {
  std::string name;  ///< "type", "name", "lr", "weight_decay".
  std::string type;  ///< As written in the docs.
  std::string doc;   ///< One line, including where the key applies.
};

/// The reserved component keys, in documentation order.
const std::vector<ReservedKey>& reserved_component_keys();

/// True for component kinds that own trained parameters (lr and weight_decay apply to them).
bool component_kind_is_trained(sdk::ComponentKind kind);

/// The Markdown tables of every host section and the reserved component keys, generated from the
/// schemas above; docs/manifest.md holds exactly this between its generated-block markers.
std::string manifest_reference_markdown();

/// Documentation text of a spec's bounds or choices ("[0, 1]", ">= 1", "sgd, adam, adamw"; "" when none).
std::string option_range_text(const sdk::OptionSpec& spec);

}  // namespace mmdebias::core
