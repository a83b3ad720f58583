// Reading gzip-compressed idx files (MNIST format): big-endian header, then raw uint8 data.
//
// idx3 (images): magic 0x00000803, n, rows, cols (4 bytes each, big-endian), then n*rows*cols bytes.
// idx1 (labels): magic 0x00000801, n, then n bytes.
// A decoded file is cached in memory for the life of the process (the train images are 47 MB), keyed by path,
// size and modification time so that a rewritten file is decoded again. Nothing is written to disk.
#include "fashion_captions_idx.hpp"

#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include <ATen/ATen.h>

namespace mmdebias::data_plugin::fashion_idx {
namespace {

namespace fs = std::filesystem;

/// A gzFile closed on scope exit.
struct GzFile {
  gzFile f = nullptr;
  ~GzFile() {
    if (f) gzclose(f);
  }
};

/// Reads up to n bytes; returns how many were read. Throws on a zlib error (corrupt stream).
size_t read_bytes(gzFile f, void* out, size_t n, const std::string& where) {
  auto* p = static_cast<unsigned char*>(out);
  size_t done = 0;
  while (done < n) {
    const unsigned chunk = static_cast<unsigned>(std::min<size_t>(n - done, size_t{1} << 30));
    const int got = gzread(f, p + done, chunk);
    if (got < 0) {
      int errnum = 0;
      const char* msg = gzerror(f, &errnum);
      throw std::runtime_error(where + ": corrupt gzip data after " + std::to_string(done) + " bytes (" +
                               (msg ? msg : "zlib error") + ")");
    }
    if (got == 0) break;
    done += static_cast<size_t>(got);
  }
  return done;
}

uint32_t big_endian(const unsigned char* b) {
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | uint32_t{b[3]};
}

/// Decodes one idx file of the expected magic and dimension count into uint8 [dims...].
at::Tensor decode(const std::string& path, uint32_t magic, int ndims, const std::string& who,
                  const std::string& missing_hint) {
  const std::string where = who + ": " + path;
  std::error_code ec;
  if (!fs::exists(path, ec)) throw std::runtime_error(who + ": missing file " + path + "; " + missing_hint);
  GzFile gz;
  gz.f = gzopen(path.c_str(), "rb");
  if (!gz.f) throw std::runtime_error(where + ": cannot be opened");
  const char* kind = ndims == 3 ? "idx3 images" : "idx1 labels";

  std::vector<unsigned char> header(static_cast<size_t>(4 * (1 + ndims)));
  const size_t got = read_bytes(gz.f, header.data(), header.size(), where);
  if (got < header.size())
    throw std::runtime_error(where + ": truncated " + kind + " header (" + std::to_string(got) + " of " +
                             std::to_string(header.size()) + " bytes)");
  const uint32_t m = big_endian(header.data());
  if (m != magic) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "0x%08x, expected 0x%08x", m, magic);
    throw std::runtime_error(where + ": not an " + kind + " file (magic " + buf + ")");
  }
  std::vector<int64_t> dims;
  uint64_t total = 1;
  for (int d = 0; d < ndims; ++d) {
    const uint32_t v = big_endian(header.data() + 4 * (1 + d));
    dims.push_back(static_cast<int64_t>(v));
    total *= v;
  }
  if (ndims == 3 && (dims[1] == 0 || dims[2] == 0 || dims[1] > 4096 || dims[2] > 4096))
    throw std::runtime_error(where + ": implausible image size " + std::to_string(dims[1]) + "x" +
                             std::to_string(dims[2]));
  if (total > (uint64_t{1} << 36)) throw std::runtime_error(where + ": implausible header (" + std::to_string(total) + " bytes)");

  at::Tensor out = at::empty(dims, at::TensorOptions().dtype(at::kByte));
  const size_t n = read_bytes(gz.f, out.data_ptr(), static_cast<size_t>(total), where);
  if (n < total) {
    const std::string what = ndims == 3 ? std::to_string(dims[0]) + " images of " + std::to_string(dims[1]) + "x" +
                                              std::to_string(dims[2])
                                        : std::to_string(dims[0]) + " labels";
    throw std::runtime_error(where + ": truncated " + kind + " file: the header claims " + what + " (" +
                             std::to_string(total) + " bytes) but only " + std::to_string(n) + " bytes follow");
  }
  return out;
}

at::Tensor cached(const std::string& path, uint32_t magic, int ndims, const std::string& who,
                  const std::string& missing_hint) {
  static std::mutex mu;
  static std::map<std::tuple<std::string, uintmax_t, int64_t>, at::Tensor> cache;
  std::error_code ec;
  const uintmax_t size = fs::file_size(path, ec);
  const int64_t mtime = ec ? 0 : static_cast<int64_t>(fs::last_write_time(path, ec).time_since_epoch().count());
  const auto key = std::make_tuple(path, ec ? uintmax_t{0} : size, mtime);
  std::lock_guard<std::mutex> lock(mu);  // one decode at a time: parallel splits share the work
  if (!ec) {
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
  }
  at::Tensor t = decode(path, magic, ndims, who, missing_hint);
  if (!ec) cache[key] = t;
  return t;
}

}  // namespace

at::Tensor read_images(const std::string& path, const std::string& who, const std::string& missing_hint) {
  return cached(path, 0x00000803u, 3, who, missing_hint);
}

at::Tensor read_labels(const std::string& path, const std::string& who, const std::string& missing_hint) {
  return cached(path, 0x00000801u, 1, who, missing_hint).to(at::kLong);
}

}  // namespace mmdebias::data_plugin::fashion_idx
