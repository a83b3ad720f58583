// A stable digest for dataset fingerprints and for deriving seeds from names (FNV-1a, 64 bits).
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include <ATen/core/Tensor.h>

namespace mmdebias::sdk {

/// FNV-1a-64 over bytes: the same value on every platform and build, so a stable FINGERPRINT; not a
/// security hash (collisions can be made on purpose). Numbers are fed little-endian.
struct Fnv1a64 {
  uint64_t h = 14695981039346656037ull;  ///< The digest so far.

  /// Adds raw bytes.
  void bytes(const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) {
      h ^= p[i];
      h *= 1099511628211ull;
    }
  }
  /// Adds an integer (8 bytes, little-endian).
  void u64(uint64_t v) {
    unsigned char b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>(v >> (8 * i));
    bytes(b, 8);
  }
  /// Adds a double by its bits.
  void real(double d) {
    uint64_t bits;
    std::memcpy(&bits, &d, sizeof bits);
    u64(bits);
  }
  /// Adds a string, length first (so "ab"+"c" differs from "a"+"bc").
  void text(const std::string& s) {
    u64(s.size());
    bytes(s.data(), s.size());
  }
  /// Adds a tensor's bytes (contiguous, in its dtype; CPU tensors).
  void tensor(const at::Tensor& t) {
    const at::Tensor c = t.contiguous();
    bytes(c.data_ptr(), static_cast<size_t>(c.nbytes()));
  }
  /// The digest as 16 hex digits.
  std::string hex() const {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return buf;
  }
};

}  // namespace mmdebias::sdk
