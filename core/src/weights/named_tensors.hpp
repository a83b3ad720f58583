// Named tensors as weight files hold them: a name and a CPU tensor, in the file's order.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

namespace mmdebias::core {

/// Tensors by name, in file order (a state dict).
using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

}  // namespace mmdebias::core
