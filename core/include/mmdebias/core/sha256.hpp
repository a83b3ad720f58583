// SHA-256 digests of files and bytes (OpenSSL), as lowercase hex.
#pragma once

#include <filesystem>
#include <string>

namespace mmdebias::core {

/// Hex SHA-256 of a file's contents; throws RunError when it cannot be read.
std::string sha256_file(const std::filesystem::path& path);

/// Hex SHA-256 of a byte string.
std::string sha256_bytes(const void* data, size_t size);

}  // namespace mmdebias::core
