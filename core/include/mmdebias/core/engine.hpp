// Runs: a manifest turned into a trained, evaluated, reproducible run directory; resume; evaluation of a run.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mmdebias/core/manifest.hpp"
#include "mmdebias/core/plugin_host.hpp"

namespace mmdebias::core {

/// What `mmdebias run` (and `demo`) asks for.
struct RunRequest {
  std::filesystem::path manifest_file;     ///< The manifest, or empty when manifest_text is given.
  std::string manifest_text;               ///< An embedded manifest (demo).
  std::string display_name = "<embedded>"; ///< Name of manifest_text in messages.
  std::vector<Override> overrides;         ///< key.path=value overrides.
  std::filesystem::path out;               ///< Run directory; empty: <run.out>/<run.name>-<timestamp>.
  std::filesystem::path resume;            ///< An existing run directory to continue (manifest_file unused).
  SearchPath search;                       ///< Plugin search path (the manifest's paths are added).
  bool interactive = false;                ///< Draw a progress bar (a terminal) instead of periodic lines.
};

/// What a finished run left.
struct RunOutcome {
  std::filesystem::path dir;  ///< The run directory.
  nlohmann::json summary;     ///< The contents of summary.json.
};

/// Validates, trains, evaluates and writes the run directory. Throws InputError (bad manifest, refused
/// plugin, a resume that does not match) or RunError (a failure while running).
RunOutcome run_pipeline(const RunRequest& request);

/// Evaluates the latest checkpoint of a run directory (overrides may change e.g. eval.split); writes
/// eval-<split>.json into it and returns the result.
nlohmann::json evaluate_run(const std::filesystem::path& run_dir, const std::vector<Override>& overrides, SearchPath search);

/// A readable table of a summary's (or evaluation's) metrics.
std::string summary_table(const nlohmann::json& summary);

/// Sets LibTorch's intra-op threads and caps oneTBB to the same number (0 = all cores); returns the count.
int set_thread_count(int threads);

}  // namespace mmdebias::core
