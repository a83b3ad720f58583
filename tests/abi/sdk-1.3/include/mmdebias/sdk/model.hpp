// The model as components see it: feature shapes, the forward record of one step, and the host's model handle.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "mmdebias/sdk/attention.hpp"
#include "mmdebias/sdk/data.hpp"

namespace mmdebias::sdk {

class Encoder;
class Fusion;

/// Per-modality features, by modality name.
using Features = std::map<std::string, at::Tensor>;

/// Shape of an encoder's output.
struct FeatureSpec {
  int64_t dim = 0;      ///< Feature width D.
  bool tokens = false;  ///< True for [B, T, D] token sequences, false for pooled [B, D].
  int64_t length = 0;   ///< T for token outputs, 0 otherwise.
};

/// Everything known about the model when a component is built (filled as far as the build has come).
struct ModelSpec {
  std::vector<ModalitySpec> inputs;          ///< Dataset modalities, in order.
  std::map<std::string, FeatureSpec> features;  ///< Encoder outputs by modality (known from the fusion on).
  int64_t fused_dim = 0;                     ///< Fusion output width (known from estimators on).
  int64_t num_classes = 0;                   ///< Number of classes.
  std::vector<AttentionSiteInfo> attention_sites;  ///< Every site of encoders and fusion (known from estimators on).
};

/// What one forward pass produced; read by estimators, interventions and scorers.
struct ForwardRecord {
  Features features;      ///< Per-modality features after the on_features hook (graph attached when training).
  at::Tensor fused_input; ///< Fused features as the fusion produced them, before on_fused.
  at::Tensor fused;       ///< Fused features after on_fused, the head's input.
  at::Tensor logits;      ///< Head output [B, C].
  std::map<std::string, at::Tensor> modality_logits;  ///< Per-modality logits where the fusion gives them (in training, only when a component needs capability::kModalityLogits).
  std::map<std::string, at::Tensor> attention;        ///< Weights used at each site, when recorded.
};

/// The host's model, lent to hooks that re-run parts of it. Implemented by the host.
class Model {
 public:
  virtual ~Model() = default;
  /// Modality names in dataset order.
  virtual const std::vector<std::string>& modalities() const = 0;
  /// The encoder of a modality.
  virtual Encoder& encoder(const std::string& modality) = 0;
  /// The fusion (fuse, head, per-modality heads).
  virtual Fusion& fusion() = 0;
  /// Runs encoders, fusion and head on a batch with the given site overrides, without any other hook.
  virtual ForwardRecord forward(const Batch& batch, const AttentionSites& sites) = 0;
};

}  // namespace mmdebias::sdk
