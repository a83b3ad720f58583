// Evaluation: the forward without gradients, inference-time interventions, scorer fitting, and every metric.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "pipeline/context.hpp"
#include "pipeline/model.hpp"

namespace mmdebias::core {

/// How an evaluation pass reads its split.
struct EvalOptions {
  std::string split = "test";  ///< Split name (recorded in the result).
  int64_t batch_size = 256;    ///< Samples per batch.
  int threads = 1;             ///< Loader threads.
};

/// Per-sample results of one evaluation (every rank's samples, in rank order), for plots such as ROC curves.
struct SampleScores {
  at::Tensor ood;                            ///< [N] bool: the sample is OOD.
  at::Tensor label;                          ///< [N] int64: the true label.
  at::Tensor predicted;                      ///< [N] int64: the argmax of the (adjusted) logits.
  std::map<std::string, at::Tensor> scores;  ///< Scorer (short name) -> [N] double, higher = more in-distribution.
};

/// Runs the scorers that need training statistics over a dataset (Phase::Fit), then finishes their fit;
/// scorers named in already_fitted (restored from the run directory) are left as they are.
void fit_scorers(PipelineModel& model, RunState& state, const std::shared_ptr<sdk::Dataset>& train_data,
                 const EvalOptions& options, const std::set<std::string>& already_fitted = {});

/// Evaluates the model on a prepared dataset: accuracy, macro-F1, confusion, per-modality, per-group and
/// worst-group accuracy on in-distribution samples; AUROC, FPR@95TPR, AUPR-In/Out per scorer when the
/// split has OOD samples. When an intervention adjusts predictions, "factual" holds the metrics of the
/// unadjusted logits beside them. Metrics components publish during the pass, averaged over batches and
/// ranks, are under "components". When samples is given it receives the per-sample labels, predictions and scores.
nlohmann::json evaluate(PipelineModel& model, RunState& state, const std::shared_ptr<sdk::Dataset>& data,
                        const EvalOptions& options, SampleScores* samples = nullptr);

}  // namespace mmdebias::core
