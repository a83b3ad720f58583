// One sample's array computed beforehand (embeddings, spectrograms), read whole as float32: saved with np.save (.npy),
// or pickled (.pkl: pickle.dump(array), as OGM-GE's AVE spectrograms are).
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

#include <ATen/core/Tensor.h>

namespace mmdebias::media_plugin {

/// The shape of the array in file (a .npy's header only; a .pkl is read whole).
std::vector<int64_t> npy_shape(const std::filesystem::path& file);

/// The array in file (.npy, or .pkl) as float32, which must have shape `expected` (every sample of a column has the
/// first row's shape). Throws sdk::DataError naming the file on a malformed or truncated file, an unsupported dtype or
/// another shape.
at::Tensor read_npy_sample(const std::filesystem::path& file, const std::vector<int64_t>& expected);

}  // namespace mmdebias::media_plugin
