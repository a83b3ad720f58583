// What may change between a run and its resumption (or evaluation), and what may not.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace mmdebias::core {

/// Differences that matter between the resolved manifest a checkpoint was written with and the one a
/// resume (or, with for_eval, an evaluation) would use, one line each ("train.lr: 0.001 -> 0.01",
/// "plugin std: sha256 ab12… -> cd34…"). Logging, evaluation, thread and output settings, the number of
/// epochs or steps, and plugin file locations (provenance.plugins.*.path, provenance.libraries) may change;
/// everything else that shapes training may not, plugins.paths and plugins.sha256 included.
std::vector<std::string> resume_differences(const std::string& saved_resolved, const std::string& current_resolved,
                                            bool for_eval = false);

/// Before any plugin is loaded for `run --resume` or `eval` (action: "resume DIR", "evaluate DIR"): throws
/// InputErrors when the run directory's manifest_file, as it is on disk, differs from the config the checkpoint
/// named checkpoint_name recorded (recorded_resolved, its resolved manifest) by more than resume_differences allows. An edited manifest.yaml (plugins.paths naming other files,
/// say) is thus refused before its plugins' code runs, not after.
void refuse_edited_manifest(const std::filesystem::path& manifest_file, const std::string& recorded_resolved,
                            const std::string& checkpoint_name, bool for_eval, const std::string& action);

}  // namespace mmdebias::core
