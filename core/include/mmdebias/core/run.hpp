// `mmdebias run`, `demo` and `eval`: a manifest turned into a trained, evaluated, reproducible run directory;
// resume; evaluation of a run's checkpoint.
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
  bool force = false;                      ///< Start even where out holds a run or other files (they are moved aside).
  std::filesystem::path resume;            ///< An existing run directory to continue (manifest_file unused).
  std::string checkpoint;                  ///< With resume: the checkpoint (file name) to continue from; empty = latest.
  SearchPath search;                       ///< Plugin search path (the manifest's paths are added).
  bool interactive = false;                ///< Draw a progress bar (a terminal) instead of periodic lines.
};

/// What a finished run left.
struct RunOutcome {
  std::filesystem::path dir;  ///< The run directory.
  nlohmann::json summary;     ///< The contents of summary.json (only steps and rank when stopped by a signal).
  int stopped_by_signal = 0;  ///< SIGTERM/SIGINT when a stop request ended training early (checkpoint saved, no evaluation).
};

/// Validates, trains, evaluates and writes the run directory. Throws InputError (bad manifest, refused
/// plugin, a resume that does not match, a checkpoint that does not verify, a run directory that another
/// process writes, or that holds a run or other files when not forced) or RunError (a failure while
/// running). SIGTERM/SIGINT during training save a checkpoint at the next step boundary and return with
/// stopped_by_signal set; before or after training they act as usual (nothing unsaved is lost).
RunOutcome run_pipeline(const RunRequest& request);

/// Evaluates the latest checkpoint of a run directory, or the one named by checkpoint (overrides may change
/// e.g. eval.split); writes eval-<split>.json into it and returns the result. Holds the run directory's lock
/// while it works: a run or another eval writing there is refused (InputError).
nlohmann::json evaluate_run(const std::filesystem::path& run_dir, const std::vector<Override>& overrides, SearchPath search,
                            const std::string& checkpoint = "");

}  // namespace mmdebias::core
