// Fitted scorer statistics kept with a run, so `mmdebias eval` reuses them instead of refitting.
#pragma once

#include <filesystem>
#include <set>
#include <string>

#include "pipeline/model.hpp"

namespace mmdebias::core {

/// What fitted statistics depend on besides the scorer's own type and options: the trained parameters and
/// the data they were fitted on. Statistics saved under another basis are never reused.
struct ScorerBasis {
  std::string params_sha256;     ///< params_sha256 of the model the scorers were fitted with.
  std::string data_fingerprint;  ///< Fingerprint of the training split they were fitted on.
};

/// Writes each fitted scorer's buffers to dir/<instance>.pt atomically, tagged with its type, options and basis.
void save_scorer_state(PipelineModel& model, const std::filesystem::path& dir, const ScorerBasis& basis);

/// Restores the scorers whose file in dir matches their type, options and basis; returns their instance names.
std::set<std::string> load_scorer_state(PipelineModel& model, const std::filesystem::path& dir, const ScorerBasis& basis);

}  // namespace mmdebias::core
