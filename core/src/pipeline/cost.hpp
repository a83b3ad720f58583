// `mmdebias validate --cost`: what each component of a built (never run) pipeline costs per training step and
// per evaluation batch: parameters, parameter + optimizer memory, and the extra passes it declares.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mmdebias/sdk/components.hpp"
#include "pipeline/validate.hpp"

namespace mmdebias::core {

/// One component's estimate.
struct ComponentCost {
  std::string instance;      ///< Instance path ("interventions.0").
  std::string type;          ///< Component type ("std.concat").
  int64_t parameters = 0;    ///< Trainable scalars (scorers: fitted buffers are not counted).
  int64_t buffer_scalars = 0;  ///< Scalars held in buffers (queues, running statistics).
  int64_t memory_bytes = 0;  ///< Parameters + gradients + optimizer state + buffers (+ autocast's casts), in bytes.
  sdk::ComputeCost extra;    ///< What the component declares it adds (sdk::*::cost()).
};

/// The whole estimate: components plus the totals per training step and per evaluation batch.
struct CostEstimate {
  std::vector<ComponentCost> components;  ///< Pipeline order: encoders, fusion, estimators, interventions, scorers.
  int64_t train_batch = 0;         ///< train.batch_size.
  int64_t eval_batch = 0;          ///< eval.batch_size.
  int64_t optimizer_slots = 0;     ///< Optimizer state tensors per parameter (adam/adamw 2, sgd with momentum 1).
  std::string precision = "fp32";  ///< run.precision.
  int64_t cast_bytes = 0;          ///< Of memory_bytes: the bf16/fp16 copies of trained weights autocast keeps for a step.
  int64_t parameters = 0;          ///< Sum of components' parameters.
  int64_t memory_bytes = 0;        ///< Sum of components' memory.
  int64_t train_forwards = 0;      ///< Whole-model passes per training step (1 + extras).
  int64_t train_head_rows = 0;     ///< Rows through the fusion's head and modality heads per training step.
  int64_t eval_forwards = 0;       ///< Whole-model passes per evaluation batch (1 + extras).
  int64_t eval_head_rows = 0;      ///< Head rows per evaluation batch.
};

/// Per-parameter optimizer state tensors: Adam/AdamW 2, SGD with momentum 1, plain SGD 0.
int optimizer_state_slots(const std::string& optimizer, double momentum);

/// Estimates the cost of a validated pipeline from its built components; runs none of them.
CostEstimate estimate_cost(const BuiltPipeline& pipeline, const ResolvedManifest& resolved);

/// The estimate as an aligned table with a totals line (what `validate --cost` prints).
std::string format_cost(const CostEstimate& cost);

/// The estimate as JSON text (`validate --cost --json`).
std::string cost_json(const CostEstimate& cost);

}  // namespace mmdebias::core
