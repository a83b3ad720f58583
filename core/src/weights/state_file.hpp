// Reading a component's starting weights into it, as PyTorch's load_state_dict does: by name, reporting the
// missing, unexpected and wrongly shaped names; and freezing parameters by name.
#pragma once

#include <string>

#include <torch/nn/module.h>

#include "weights/named_tensors.hpp"
#include "weights/weight_settings.hpp"

namespace mmdebias::core {

/// The tensors of a weight file, safetensors or torch.save's zip, told apart by their first bytes.
NamedTensors read_state_file(const InitSpec& spec);

/// Loads spec's file into module's parameters and buffers; returns one line saying what was loaded (and,
/// when not strict, what was missing or unexpected). Throws InputError with PyTorch's wording of the
/// faults when strict and a name is missing or unexpected, or whenever a shape differs.
std::string load_initial_weights(torch::nn::Module& module, const InitSpec& spec);

/// Freezes (requires_grad = false) every parameter when !settings.trainable, else those whose name matches a
/// pattern of settings.freeze; throws InputError naming a pattern that matches no parameter.
void freeze_parameters(torch::nn::Module& module, const WeightSettings& settings);

}  // namespace mmdebias::core
