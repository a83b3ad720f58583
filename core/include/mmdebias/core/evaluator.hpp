// Evaluation: the forward without gradients, inference-time interventions, scorer fitting, and every metric.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "mmdebias/core/host_context.hpp"
#include "mmdebias/core/pipeline_model.hpp"

namespace mmdebias::core {

/// How an evaluation pass reads its split.
struct EvalOptions {
  std::string split = "test";  ///< Split name (recorded in the result).
  int64_t batch_size = 256;    ///< Samples per batch.
  int threads = 1;             ///< Loader threads.
};

/// Runs the scorers that need training statistics over a dataset (Phase::Fit), then finishes their fit.
void fit_scorers(PipelineModel& model, RunState& state, const std::shared_ptr<sdk::Dataset>& train_data,
                 const EvalOptions& options);

/// Evaluates the model on a prepared dataset: accuracy, macro-F1, confusion, per-modality, per-group and
/// worst-group accuracy on in-distribution samples; AUROC, FPR@95TPR, AUPR-In/Out per scorer when the
/// split has OOD samples. Metrics published by components during the pass are included under "components".
nlohmann::json evaluate(PipelineModel& model, RunState& state, const std::shared_ptr<sdk::Dataset>& data,
                        const EvalOptions& options);

}  // namespace mmdebias::core
