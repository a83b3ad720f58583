// What may change between a run and its resumption (or evaluation), and what may not.
#pragma once

#include <string>
#include <vector>

namespace mmdebias::core {

/// Differences that matter between the resolved manifest a checkpoint was written with and the one a
/// resume (or, with for_eval, an evaluation) would use, one line each ("train.lr: 0.001 -> 0.01",
/// "plugin std: sha256 ab12… -> cd34…"). Logging, evaluation, thread and output settings, the number of
/// epochs or steps, and plugin file locations may change; everything else that shapes training may not.
std::vector<std::string> resume_differences(const std::string& saved_resolved, const std::string& current_resolved,
                                            bool for_eval = false);

}  // namespace mmdebias::core
