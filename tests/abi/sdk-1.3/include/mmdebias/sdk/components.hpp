// The six component interfaces a plugin implements, and the arguments their factories receive.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include "mmdebias/sdk/attention.hpp"
#include "mmdebias/sdk/context.hpp"
#include "mmdebias/sdk/data.hpp"
#include "mmdebias/sdk/model.hpp"
#include "mmdebias/sdk/options.hpp"
#include "mmdebias/sdk/step.hpp"
#include "mmdebias/sdk/terms.hpp"

namespace mmdebias::sdk {

/// What a factory receives to build one component instance.
struct BuildArgs {
  std::string name;       ///< Instance path in the manifest ("encoders.image", "fusion", "interventions.arl").
  Options options;        ///< Validated options, every declared option present.
  ModelSpec model;        ///< The model as far as it is built (see ModelSpec).
  std::string modality;   ///< Encoders: the modality encoded.
  std::string split;      ///< Datasets: the split to serve ("train", "test", ...).
  int rank = 0;           ///< Datasets: this process's rank.
  int world_size = 1;     ///< Datasets: number of processes.
  uint64_t seed = 0;      ///< Run seed (datasets derive their generation from it).
  std::string cache_dir;  ///< Datasets: a directory for generated or downloaded files.
};

/// The compute a component adds to one training step and one evaluation batch, declared by the component so
/// that `mmdebias validate --cost` can estimate a run before any compute (all zero: adds nothing).
struct ComputeCost {
  int64_t train_forwards = 0;       ///< Extra whole-model passes (Model::forward calls) per training step.
  int64_t train_head_rows = 0;      ///< Extra rows through the fusion's head / modality heads per training sample.
  int64_t train_head_rows_fixed = 0;  ///< Extra head rows per training step whatever the batch size (synthesised samples).
  int64_t eval_forwards = 0;        ///< Extra whole-model passes (Model::forward calls) per evaluation batch.
  int64_t eval_head_rows = 0;       ///< Extra head rows per evaluation sample.
};

/// A source of samples. Construction and info() must be cheap: no data is read before prepare().
class Dataset {
 public:
  virtual ~Dataset() = default;
  /// Modalities, shapes, classes and splits, known without reading data.
  virtual DatasetInfo info() const = 0;
  /// Reads, generates or caches the data; called once before size() and get().
  virtual void prepare() {}
  /// Number of samples in the split.
  virtual int64_t size() const = 0;
  /// The sample at index; must be safe to call from several threads at once.
  virtual Sample get(int64_t index) const = 0;
  /// A digest of the data and the options that shaped it (recorded in the resolved manifest).
  virtual std::string fingerprint() const = 0;
  /// Fills batch with the samples at indices (inputs, label, group, environment, ood; not index; first dimension
  /// indices.size()), bitwise what collating get() gives, and returns true; false (the default) makes the host
  /// call get() per sample. Safe from several threads, like get() (SDK 1.0 pre-release addition, kept last).
  virtual bool get_batch(const std::vector<int64_t>& indices, Batch& batch) const { return false; }
};

/// Turns one modality's batch into features [B, D] or tokens [B, T, D].
class Encoder : public torch::nn::Module {
 public:
  /// Shape of what encode() returns.
  virtual FeatureSpec output() const = 0;
  /// Attention sites inside this encoder (full names).
  virtual std::vector<AttentionSiteInfo> attention_sites() const { return {}; }
  /// Encodes a batch of this modality, applying any site overrides.
  virtual at::Tensor encode(const at::Tensor& input, const AttentionSites& sites) = 0;
  /// What this component adds per training step and evaluation batch (SDK 1.0 pre-release addition, kept last).
  virtual ComputeCost cost() const { return {}; }
};

/// Combines per-modality features; its parts can be called on any features (original, altered, permuted).
class Fusion : public torch::nn::Module {
 public:
  /// Width of the fused features.
  virtual int64_t fused_dim() const = 0;
  /// Attention sites inside this fusion (full names).
  virtual std::vector<AttentionSiteInfo> attention_sites() const { return {}; }
  /// Fuses per-modality features into [B, fused_dim].
  virtual at::Tensor fuse(const Features& features, const AttentionSites& sites) = 0;
  /// Maps fused features to logits [B, C].
  virtual at::Tensor head(const at::Tensor& fused) = 0;
  /// True when modality_head() gives per-modality logits.
  virtual bool has_modality_heads() const { return false; }
  /// Logits [B, C] from one modality's features alone (e.g. W[0; z_m; 0] + b for a concat head).
  virtual at::Tensor modality_head(const std::string& modality, const at::Tensor& features) {
    throw std::logic_error("this fusion gives no per-modality logits (modality '" + modality + "')");
  }
  /// What this component adds per training step and evaluation batch (SDK 1.0 pre-release addition, kept last).
  virtual ComputeCost cost() const { return {}; }
};

/// Reads each step's forward record and publishes estimates; may own trained parameters and running state.
class BiasEstimator : public torch::nn::Module {
 public:
  /// Before on_fused: sees features and record.fused_input (e.g. to estimate a confounder from them).
  virtual void observe_fused(const ForwardRecord& record, Estimates& estimates, Context& ctx) {}
  /// After the head: sees the whole record.
  virtual void observe(const ForwardRecord& record, Estimates& estimates, Context& ctx) {}
  /// Adds the terms that train this estimator's own parameters.
  virtual void loss(const ForwardRecord& record, const Batch& batch, const Estimates& estimates, LossTerms& terms, Context& ctx) {}
  /// After the optimizer step: update running state.
  virtual void on_step_end(Context& ctx) {}
  /// What this component adds per training step and evaluation batch (SDK 1.0 pre-release addition, kept last).
  virtual ComputeCost cost() const { return {}; }
};

/// The hooks an intervention implements, as bits; the engine calls only these, in this order.
enum Hook : uint32_t {
  kOnBatch = 1u << 0,        ///< 1: alter or add samples in input space.
  kOnFeatures = 1u << 1,     ///< 2: wrap each modality's features.
  kAtAttention = 1u << 2,    ///< 3: install attention-weight overrides at claimed sites.
  kOnFused = 1u << 3,        ///< 4: transform fused features before the head.
  kLoss = 1u << 4,           ///< 6: add named, weighted loss terms.
  kAfterBackward = 1u << 5,  ///< 7: read or edit gradients before clipping and the optimizer step.
  kOnStepEnd = 1u << 6,      ///< 7: after the optimizer step.
  kPredict = 1u << 7,        ///< 8: adjust logits at evaluation.
};

/// Changes training or prediction at the hooks it declares.
class Intervention : public torch::nn::Module {
 public:
  /// Bitwise OR of the Hook values this intervention implements.
  virtual uint32_t hooks() const = 0;
  /// Hooks this intervention must own alone (bits of Hook); the validator refuses a second claimant.
  virtual uint32_t exclusive_hooks() const { return 0; }
  /// Attention sites this intervention owns (one owner per site); chosen from the model's sites.
  virtual std::vector<std::string> claimed_sites() const { return {}; }

  /// 1: alter the batch in place (training only).
  virtual void on_batch(Batch& batch, Context& ctx) {}
  /// 2: returns the features of one modality to use (e.g. scale_gradient(z, 1 + w)).
  virtual at::Tensor on_features(const std::string& modality, const at::Tensor& features, Context& ctx) { return features; }
  /// 3: installs overrides for the claimed sites before the forward.
  virtual void at_attention(AttentionSites& sites, Context& ctx) {}
  /// 4: returns the fused features the head will see.
  virtual at::Tensor on_fused(const at::Tensor& fused, const Estimates& estimates, Context& ctx) { return fused; }
  /// 6: adds loss terms; may re-run fusion parts through model.
  virtual void loss(const ForwardRecord& record, const Batch& batch, const Estimates& estimates, Model& model, LossTerms& terms, Context& ctx) {}
  /// 7: once per optimizer step, after every micro-batch's backward and the averaging of gradients over ranks,
  /// before clipping (train.grad_clip) and the optimizer step: reads or edits .grad(). step holds this rank's
  /// micro-batches. Gradients are then identical on every rank, and an edit must keep them so: compute it from
  /// values every rank shares (reduce per-rank statistics with ctx.all_reduce_sum) and draw noise from
  /// ctx.shared_rng, never ctx.rng.
  virtual void after_backward(const StepRecords& step, Model& model, Context& ctx) {}
  /// 7: after the optimizer step.
  virtual void on_step_end(Context& ctx) {}
  /// 8: returns adjusted logits at evaluation; may re-run the forward with overridden sites.
  virtual at::Tensor predict(const ForwardRecord& record, const at::Tensor& logits, const Batch& batch, const Estimates& estimates, Model& model, Context& ctx) { return logits; }
  /// What this component adds per training step and evaluation batch (SDK 1.0 pre-release addition, kept last).
  virtual ComputeCost cost() const { return {}; }
};

/// Scores samples for OOD detection: one score per sample, higher = more in-distribution.
class Scorer : public torch::nn::Module {
 public:
  /// True when the scorer needs a pass over training data (fit) before scoring.
  virtual bool needs_fit() const { return false; }
  /// Accumulates statistics from one training batch (Phase::Fit); store them as buffers so they are saved.
  virtual void fit(const ForwardRecord& record, const Batch& batch, Context& ctx) {}
  /// Ends the fitting pass.
  virtual void finish_fit(Context& ctx) {}
  /// Scores [B] for a batch given its record and its (possibly adjusted) logits.
  virtual at::Tensor score(const ForwardRecord& record, const at::Tensor& logits, Context& ctx) = 0;
  /// What this component adds per training step and evaluation batch (SDK 1.0 pre-release addition, kept last).
  virtual ComputeCost cost() const { return {}; }
};

}  // namespace mmdebias::sdk
