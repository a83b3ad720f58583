// run.check_replicas: after each gradient-editing hook, every rank's gradients must still be bitwise equal (they
// were just averaged); a hook that adds per-rank noise would otherwise let the replicas drift apart silently.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "dist/collective.hpp"

namespace mmdebias::core {

/// A parameter and its name ("encoders.audio.net.0.weight"), whose .grad() is compared across ranks.
using NamedParameter = std::pair<std::string, at::Tensor>;

/// Compares every parameter's gradient across ranks through one all_gather of a bitwise digest per parameter; call
/// it on every rank. Returns "" when all agree, else a sentence naming the first parameter that differs and the
/// ranks (the same text on every rank, so every rank stops alike).
std::string replica_mismatch(const std::vector<NamedParameter>& parameters, Collective& collective);

}  // namespace mmdebias::core
