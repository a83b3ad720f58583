// Internal to the data plugin: reading gzip-compressed idx files (the MNIST / Fashion-MNIST format).
#pragma once

#include <string>

#include <ATen/core/Tensor.h>

namespace mmdebias::data_plugin::fashion_idx {

/// The images of an idx3 file (magic 0x00000803): uint8 [n, rows, cols].
/// Decoded once per process and kept in memory (keyed by path, size and modification time); never written
/// anywhere. Throws std::runtime_error naming the file: missing (with who + missing_hint), not gzip/idx, wrong
/// magic, or truncated (the header claims more bytes than the file holds).
at::Tensor read_images(const std::string& path, const std::string& who, const std::string& missing_hint);

/// The labels of an idx1 file (magic 0x00000801): int64 [n]. Same caching and errors as read_images.
at::Tensor read_labels(const std::string& path, const std::string& who, const std::string& missing_hint);

}  // namespace mmdebias::data_plugin::fashion_idx
