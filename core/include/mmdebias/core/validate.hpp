// Validating a whole manifest against the loaded plugins before any compute, and the resolved manifest it yields.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "mmdebias/core/manifest.hpp"
#include "mmdebias/core/registry.hpp"
#include "mmdebias/sdk/components.hpp"

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

/// The instances that run at one hook, in the order the engine calls them.
struct HookSlot {
  int step = 0;                         ///< Position in "One training step" (1..8).
  std::string hook;                     ///< "on_batch", "on_features", ..., "predict".
  std::vector<std::string> instances;   ///< Instance paths ("interventions.reweight"), manifest order.
  std::vector<std::string> types;       ///< Component type of each instance ("std.concat"), same order.
};

/// A manifest after validation: every default filled in, plus the provenance of the run.
struct ResolvedManifest {
  YAML::Node config;                             ///< The manifest with defaults filled (host sections and components).
  std::map<std::string, sdk::Options> sections;  ///< Typed plain options of "plugins", "train", "eval", "run".
  std::vector<PluginProvenance> plugins;         ///< Plugins used, by name.
  std::vector<HookSlot> hooks;                   ///< Hook order (every hook listed, possibly empty).
};

/// One constructed component and how the manifest configured it.
template <class T>
struct Instance {
  std::string name;     ///< Instance path ("encoders.image", "fusion", "interventions.reweight").
  std::string type;     ///< Full component name ("std.mlp").
  sdk::Options options; ///< Its validated options.
  std::optional<double> lr;            ///< Its own learning rate, when set.
  std::optional<double> weight_decay;  ///< Its own weight decay, when set.
  std::shared_ptr<T> object;           ///< The instance (keeps its plugin loaded).
};

/// The pipeline as validation constructed it, for the engine to reuse.
struct BuiltPipeline {
  Instance<sdk::Dataset> dataset;                    ///< Built for split "train" with the run seed (not prepared).
  sdk::DatasetInfo dataset_info;                     ///< Its info().
  sdk::ModelSpec model;                              ///< Inputs, features, fused_dim, classes, attention sites.
  std::vector<Instance<sdk::Encoder>> encoders;      ///< One per modality, in dataset order.
  Instance<sdk::Fusion> fusion;                      ///< The fusion.
  std::vector<Instance<sdk::BiasEstimator>> estimators;     ///< Manifest order.
  std::vector<Instance<sdk::Intervention>> interventions;   ///< Manifest order.
  std::vector<Instance<sdk::Scorer>> scorers;               ///< Manifest order.
  /// Some estimator or intervention declares it needs per-modality logits: only then does a training step
  /// compute them (evaluation always does, for the per-modality accuracies).
  bool training_needs_modality_logits = true;
};

/// What validate_and_build returns.
struct ValidatedPipeline {
  ResolvedManifest resolved;  ///< The resolved manifest.
  BuiltPipeline pipeline;     ///< The constructed components.
};

/// Validates the whole manifest against the registry, constructing the components in pipeline order
/// (dataset, encoders, fusion, estimators, interventions, scorers). Throws InputErrors with every problem,
/// sorted by position, each "file:line:col: key.path: what is wrong".
ValidatedPipeline validate_and_build(const Manifest& manifest, const Registry& registry);

/// validate_and_build without the constructed pipeline.
ResolvedManifest validate_manifest(const Manifest& manifest, const Registry& registry);

/// The resolved manifest as YAML: the config followed by a `provenance` section (host, plugins, hook order).
std::string emit_yaml(const ResolvedManifest& resolved);

/// The hook order as readable YAML comment lines ("#   2 on_features   interventions.0 (myplugin.reweight)"), one
/// line per hook and component, so `validate` output stays valid YAML.
std::string format_hook_order(const ResolvedManifest& resolved);

}  // namespace mmdebias::core
