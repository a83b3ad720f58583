// A sweep's results: each finished run's summary.json read, its metrics flattened, summarised per configuration
// over seeds and paired against the baseline's same seeds; written as sweep.json and sweep.csv.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mmdebias/core/sweep.hpp"

namespace mmdebias::core {

/// One run of the grid and where it stands.
struct SweepRun {
  size_t config = 0;         ///< Index into the configurations.
  int64_t seed = 0;          ///< Its run.seed.
  std::filesystem::path dir; ///< Its run directory.
  std::string status;        ///< "finished", "failed" or "missing" (not run yet, or stopped).
};

/// The numeric leaves of a summary's evaluation ("eval.classification.accuracy", "eval.ood.msp.auroc", ...):
/// what a sweep compares. Bookkeeping (counts, the step, the host's call counts) is left out.
std::map<std::string, double> result_metrics(const nlohmann::json& summary);

/// Reads the finished runs and returns sweep.json's object (see docs/running.md, "Sweeps").
nlohmann::json aggregate_sweep(const SweepRequest& request, const std::vector<SweepConfig>& configs,
                               const std::vector<SweepRun>& runs, std::optional<size_t> baseline);

/// sweep.csv: one row per configuration and metric, axes as columns.
std::string sweep_csv(const nlohmann::json& sweep);

/// The aggregate as a readable table of the main metrics (classification and each OOD scorer's AUROC).
std::string sweep_table(const nlohmann::json& sweep);

}  // namespace mmdebias::core
