// A numpy array saved with pickle.dump (what OGM-GE's AVE loader reads as audio_spec/<clip>.pkl): a small pickle
// interpreter for exactly what numpy writes for one array — protocols 2 to 5, numpy 1.x and 2.x module paths
// (`_reconstruct` + BUILD, or protocol 5's `_frombuffer`) — and nothing else: any other object is refused, and no
// Python code is ever run (unlike pickle.load, which is why we do not call out to Python).
#pragma once

#include <filesystem>

#include <ATen/core/Tensor.h>

namespace mmdebias::media_plugin {

/// The array pickled in file, in its own dtype (float16/32/64, int32/64, uint8, bool; little-endian, C order).
/// Throws sdk::DataError naming the file on a malformed pickle, another object than one numpy array, a big-endian or
/// Fortran-ordered array, or data whose size disagrees with its shape.
at::Tensor read_numpy_pickle(const std::filesystem::path& file);

}  // namespace mmdebias::media_plugin
