// Internal to core: everything a run or an evaluation opens before its loop — plugins, the validated
// pipeline, threads, device, datasets, and the resolved manifest with data fingerprints.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "dist/distributed.hpp"
#include "mmdebias/core/manifest.hpp"
#include "mmdebias/core/plugin_host.hpp"
#include "pipeline/context.hpp"
#include "pipeline/model.hpp"
#include "pipeline/validate.hpp"

namespace mmdebias::core {

/// One opened pipeline.
struct Session {
  PluginHost host;                              ///< Loaded plugins (kept for provenance).
  ResolvedManifest resolved;                    ///< The validated manifest.
  RunState state;                               ///< Run state read by every component's context.
  std::unique_ptr<PipelineModel> model;         ///< The assembled model, on its device.
  std::shared_ptr<sdk::Dataset> train_data;     ///< The prepared training split.
  std::shared_ptr<sdk::Dataset> eval_data;      ///< The prepared evaluation split (eval.split).
  std::string resolved_text;                    ///< resolved.yaml: config, provenance, data fingerprints.
  std::string config_text;                      ///< manifest.yaml: the resolved config alone.
  int threads = 1;                              ///< Threads in use.
  std::vector<std::string> notes;               ///< Warnings found while opening, logged once the run's log exists.

  /// An option of a host section ("train", "eval", "run").
  const sdk::Options& section(const std::string& name) const { return resolved.sections.at(name); }
};

/// Loads plugins (search path plus the manifest's), seeds LibTorch with run.seed, validates and builds the
/// pipeline, sets threads (shared among the processes of a machine) and device, and prepares the datasets.
/// Every rank builds the same initial parameters; afterwards each rank's global RNG is its own.
std::unique_ptr<Session> open_session(const Manifest& manifest, SearchPath search, const DistributedConfig& dist = {});

}  // namespace mmdebias::core
