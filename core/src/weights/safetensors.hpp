// The safetensors format (Hugging Face): an 8-byte little-endian header length, a JSON header naming each
// tensor's dtype, shape and byte range, then the bytes. Read and written with nlohmann-json for the header.
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include "weights/named_tensors.hpp"

namespace mmdebias::core {

/// True when the file's first bytes can be a safetensors header (a length, then '{').
bool looks_like_safetensors(const std::filesystem::path& file);

/// Every tensor of a safetensors file, in header order; throws InputError naming the file and the fault.
NamedTensors read_safetensors(const std::filesystem::path& file);

/// Writes tensors (moved to CPU, contiguous) with string metadata; names must be unique. Written to `file`
/// directly: callers that need atomicity write a temporary and rename.
void write_safetensors(const std::filesystem::path& file, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace mmdebias::core
