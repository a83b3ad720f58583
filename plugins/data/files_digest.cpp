// The fingerprint of a data.files split (see files_digest.hpp).
#include "files_digest.hpp"

#include <algorithm>
#include <filesystem>

#include "npy/npy_mapping.hpp"
#include "mmdebias/sdk/fingerprint.hpp"

namespace mmdebias::data_plugin::files {
namespace {

/// Adds n bytes of a's mapping from offset to f, through read_guarded().
void hash_bytes(sdk::Fnv1a64& f, const npy::Array& a, size_t offset, size_t n) {
  const unsigned char* p = a.map->data() + offset;
  auto read = [&f, p, n]() noexcept { f.bytes(p, n); };
  if (!npy::read_guarded(read)) npy::throw_changed(a.path, a.map->change());
}

}  // namespace

std::string split_digest(const Config& c, const SplitFiles& mapped, int64_t classes, int64_t groups,
                         const std::vector<int64_t>& vocab) {
  sdk::Fnv1a64 f;
  f.text("data.files");
  f.text(c.split);
  for (const auto& m : c.modalities) f.text(m);
  f.u64(static_cast<uint64_t>(classes));
  f.u64(static_cast<uint64_t>(groups));
  for (int64_t v : vocab) f.u64(static_cast<uint64_t>(v));
  std::vector<const npy::Array*> arrays;
  for (const auto& a : mapped.modalities) arrays.push_back(&a);
  arrays.push_back(&mapped.label);
  for (const auto* col : {&mapped.group, &mapped.environment, &mapped.ood})
    if (*col) arrays.push_back(&**col);
  uint64_t total = 0;
  for (const auto* a : arrays) total += a->map->size();
  const bool full = total <= kFullHashLimit;
  f.u64(full ? 1 : 0);
  for (const auto* a : arrays) {
    f.text(std::filesystem::path(a->path).filename().string());
    const size_t size = a->map->size();
    f.u64(size);
    if (full) {
      hash_bytes(f, *a, 0, size);
      continue;
    }
    // Header, then 64 strided 4 KiB windows of the data section, then its last 4 KiB.
    f.text(a->header);
    const size_t data = size - a->data_offset, window = std::min<size_t>(4096, data);
    for (size_t k = 0; k < 64 && data > 0; ++k) hash_bytes(f, *a, a->data_offset + (data - window) / 64 * k, window);
    hash_bytes(f, *a, size - window, window);
  }
  return f.hex();
}

}  // namespace mmdebias::data_plugin::files
