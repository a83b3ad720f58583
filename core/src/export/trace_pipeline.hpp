// The trained inference pipeline as one TorchScript module: the host's own evaluation forward (encoders, fusion,
// head, the interventions' prediction adjustments) traced with LibTorch's tracer, its parameters and buffers the
// model's own under their checkpoint names, callable from Python as module({"audio": a, "video": v}) -> logits.
#pragma once

#include <string>
#include <vector>

#include <torch/csrc/jit/api/module.h>

#include "pipeline/model.hpp"

namespace mmdebias::core {

/// The traced pipeline and how it was made.
struct TracedPipeline {
  torch::jit::Module module;  ///< forward(Dict[str, Tensor]) -> Tensor logits [B, C].
  std::string batching;       ///< "batched" (one graph for any batch size) or "per_sample" (the graph bakes a batch size).
  std::vector<std::string> in_prediction;  ///< The interventions whose prediction adjustment is part of it.
};

/// Traces model's evaluation forward on batch (a few samples of the evaluation split, on the CPU) and checks the
/// result: a graph that draws random numbers is refused, as is one whose logits on batch differ from the model's
/// own beyond 1e-5 (relative). Throws InputError naming the interventions that adjust predictions and why.
TracedPipeline trace_pipeline(PipelineModel& model, RunState& state, const sdk::Batch& batch);

}  // namespace mmdebias::core
