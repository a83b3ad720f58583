// Per-sample evaluation results on disk: eval-scores-<split>.csv, read by `mmdebias report` for ROC curves
// and score histograms (the summary holds only aggregate metrics).
#pragma once

#include <filesystem>

#include "eval/evaluator.hpp"

namespace mmdebias::core {

/// The file name per-sample results of split are written to: "eval-scores-<split>.csv".
std::string sample_scores_file(const std::string& split);

/// Writes samples as CSV (header `ood,label,predicted,<scorer>...`, one row per sample, ood 0/1, scores with
/// 17 significant digits) atomically to path; throws RunError when it cannot be written.
void write_sample_scores(const std::filesystem::path& path, const SampleScores& samples);

}  // namespace mmdebias::core
