// A run directory's trained pipeline opened again (for `mmdebias eval` and `mmdebias export`): its manifest
// built into a session and a checkpoint loaded into it, refused when the manifest no longer matches it.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "mmdebias/core/manifest.hpp"
#include "run/checkpoint.hpp"
#include "run/run_directory.hpp"
#include "run/session.hpp"

namespace mmdebias::core {

/// A session holding a run's trained parameters.
struct TrainedRun {
  std::unique_ptr<Session> session;  ///< Built from the run's manifest (with the overrides), checkpoint loaded.
  CheckpointMeta meta;               ///< The checkpoint's record (step, resolved manifest).
  std::filesystem::path checkpoint;  ///< The checkpoint loaded.
};

/// Opens run_dir (shown as the user wrote it) at its latest checkpoint, or the one named by checkpoint, for `command`
/// ("eval", "export": what messages tell the user to run); throws InputError when there is none or when the manifest
/// (with overrides) would build another pipeline.
TrainedRun open_trained_run(const RunDirectory& run_dir, const std::string& shown, const std::vector<Override>& overrides,
                            SearchPath search, const std::string& checkpoint, const std::string& command);

}  // namespace mmdebias::core
