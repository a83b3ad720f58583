// The pipeline types: each constructed component with how the manifest configured it, and the whole
// pipeline as validation built it (the engine reuses these objects; nothing is built twice).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mmdebias/sdk/components.hpp"
#include "mmdebias/sdk/options.hpp"
#include "mmdebias/sdk/sink.hpp"

namespace mmdebias::core {

/// One constructed component and how the manifest configured it.
template <class T>
struct Instance {
  std::string name;     ///< Instance path ("encoders.image", "fusion", "interventions.reweight").
  std::string type;     ///< Full component name ("std.mlp").
  sdk::Options options; ///< Its validated options.
  std::optional<double> lr;            ///< Its own learning rate, when set.
  std::optional<double> weight_decay;  ///< Its own weight decay, when set.
  std::shared_ptr<T> object;           ///< The instance (keeps its plugin loaded).
  std::string weights_note;            ///< What init: loaded ("loaded 62 of 62 tensors from ..."), when set.
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
  std::vector<Instance<sdk::MetricSink>> sinks;             ///< run.sinks, manifest order (constructed, not opened).
  /// Some estimator or intervention declares it needs per-modality logits: only then does a training step
  /// compute them (evaluation always does, for the per-modality accuracies).
  bool training_needs_modality_logits = true;
};

}  // namespace mmdebias::core
