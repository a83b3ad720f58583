// Registration: what a plugin's registration function declares — factories, option schemas, capabilities.
#pragma once

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "mmdebias/sdk/components.hpp"
#include "mmdebias/sdk/options.hpp"
#include "mmdebias/sdk/sink.hpp"

namespace mmdebias::sdk {

/// Well-known capability names components need and provide (third parties may add their own strings).
namespace capability {
/// Per-modality logits from the fusion (Fusion::modality_head).
inline constexpr const char* kModalityLogits = "modality_logits";
/// Per-modality logits from classifiers of their own: no parameter of Fusion::head takes part in Fusion::modality_head
/// (the host derives it from the built fusion, whatever the fusion declares).
inline constexpr const char* kIndependentModalityHeads = "independent_modality_heads";
/// At least one attention site in the model.
inline constexpr const char* kAttentionSites = "attention_sites";
/// Pooled [B, D] features from every encoder.
inline constexpr const char* kPooledFeatures = "pooled_features";
/// Group ids in the dataset (for worst-group metrics and group-aware methods).
inline constexpr const char* kGroups = "groups";
}  // namespace capability

/// The kind of a component (Sink: SDK 1.2, last so that the earlier values keep theirs).
enum class ComponentKind { Dataset, Encoder, Fusion, BiasEstimator, Intervention, Scorer, Sink };

/// Name of a kind as written in the manifest's docs ("encoder", "bias estimator").
inline const char* component_kind_name(ComponentKind k) {
  switch (k) {
    case ComponentKind::Dataset: return "dataset";
    case ComponentKind::Encoder: return "encoder";
    case ComponentKind::Fusion: return "fusion";
    case ComponentKind::BiasEstimator: return "bias estimator";
    case ComponentKind::Intervention: return "intervention";
    case ComponentKind::Scorer: return "scorer";
    case ComponentKind::Sink: return "sink";
  }
  return "?";
}

/// Makes a dataset.
using DatasetFactory = std::function<std::shared_ptr<Dataset>(const BuildArgs&)>;
/// Makes an encoder.
using EncoderFactory = std::function<std::shared_ptr<Encoder>(const BuildArgs&)>;
/// Makes a fusion.
using FusionFactory = std::function<std::shared_ptr<Fusion>(const BuildArgs&)>;
/// Makes a bias estimator.
using BiasEstimatorFactory = std::function<std::shared_ptr<BiasEstimator>(const BuildArgs&)>;
/// Makes an intervention.
using InterventionFactory = std::function<std::shared_ptr<Intervention>(const BuildArgs&)>;
/// Makes a scorer.
using ScorerFactory = std::function<std::shared_ptr<Scorer>(const BuildArgs&)>;
/// Makes a metric sink (SDK 1.2).
using SinkFactory = std::function<std::shared_ptr<MetricSink>(const BuildArgs&)>;

/// Declaration of one component: its local name, doc, options and capabilities.
struct ComponentDecl {
  std::string name;                   ///< Local name; the full name is "<plugin>.<name>".
  std::string doc;                    ///< One-line description.
  Schema schema;                      ///< Options it accepts.
  std::vector<std::string> needs;     ///< Capabilities another component must provide.
  std::vector<std::string> provides;  ///< Capabilities it provides.
};

/// Receives a plugin's components during registration. Implemented by the host.
class Registrar {
 public:
  virtual ~Registrar() = default;
  /// Registers a dataset.
  virtual void add_dataset(ComponentDecl decl, DatasetFactory make) = 0;
  /// Registers an encoder.
  virtual void add_encoder(ComponentDecl decl, EncoderFactory make) = 0;
  /// Registers a fusion.
  virtual void add_fusion(ComponentDecl decl, FusionFactory make) = 0;
  /// Registers a bias estimator.
  virtual void add_bias_estimator(ComponentDecl decl, BiasEstimatorFactory make) = 0;
  /// Registers an intervention.
  virtual void add_intervention(ComponentDecl decl, InterventionFactory make) = 0;
  /// Registers a scorer.
  virtual void add_scorer(ComponentDecl decl, ScorerFactory make) = 0;
  /// Registers a metric sink (SDK 1.2 addition, kept last: a 1.0 or 1.1 plugin never calls it). The host overrides it;
  /// the default, for registrars written against SDK 1.1 (test doubles), refuses the sink.
  virtual void add_sink(ComponentDecl decl, SinkFactory make) {
    throw std::logic_error("this registrar takes no metric sinks (sink '" + decl.name + "'; written against SDK 1.1?)");
  }
};

}  // namespace mmdebias::sdk
