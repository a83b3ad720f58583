// SHA-256 digests of files and bytes (OpenSSL), as lowercase hex.
#pragma once

#include <filesystem>
#include <string>

namespace mmdebias::core {

/// Hex SHA-256 of a file's contents; throws RunError when it cannot be read.
std::string sha256_file(const std::filesystem::path& path);

/// Hex SHA-256 of a byte string.
std::string sha256_bytes(const void* data, size_t size);

/// An incremental SHA-256.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  /// Adds bytes.
  void update(const void* data, size_t size);
  /// Adds a string's bytes.
  void update(const std::string& text) { update(text.data(), text.size()); }
  /// The digest of everything added, as hex (call once).
  std::string hex();

 private:
  void* ctx_;
};

}  // namespace mmdebias::core
