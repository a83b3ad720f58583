// Every random stream that shapes a run, as tensors: what checkpoints hold per rank and evaluation leaves untouched.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "pipeline/context.hpp"

namespace mmdebias::core {

/// This process's streams: the named component streams, LibTorch's default CPU generator ("default") and, on a GPU,
/// the default generator of the rank's device ("device").
std::map<std::string, at::Tensor> rng_states(const RunState& state);

/// Every rank's streams, packed, in rank order (each rank's blob may differ in size).
std::vector<std::string> gather_rng(RunState& state);

/// Sets this process's streams back to states (as rng_states returned them).
void restore_rng(RunState& state, std::map<std::string, at::Tensor> states);

}  // namespace mmdebias::core
