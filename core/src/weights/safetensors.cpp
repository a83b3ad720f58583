#include "weights/safetensors.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <set>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "mmdebias/core/errors.hpp"

namespace mmdebias::core {
namespace {

constexpr uint64_t kMaxHeader = 100ull << 20;  // the format's own limit (100 MB)

const std::vector<std::pair<const char*, at::ScalarType>>& dtypes() {
  static const std::vector<std::pair<const char*, at::ScalarType>> table = {
      {"F64", at::kDouble}, {"F32", at::kFloat}, {"F16", at::kHalf}, {"BF16", at::kBFloat16}, {"I64", at::kLong},
      {"I32", at::kInt},    {"I16", at::kShort}, {"I8", at::kChar},  {"U8", at::kByte},       {"BOOL", at::kBool}};
  return table;
}

at::ScalarType dtype_of(const std::string& name, const std::string& where) {
  for (const auto& [n, t] : dtypes())
    if (name == n) return t;
  throw InputError(where + ": unsupported dtype '" + name + "' (supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)");
}

const char* name_of(at::ScalarType t) {
  for (const auto& [n, s] : dtypes())
    if (s == t) return n;
  throw InputError(std::string("safetensors cannot hold dtype ") + c10::toString(t));
}

uint64_t read_le64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

bool looks_like_safetensors(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  unsigned char head[9];
  if (!in.read(reinterpret_cast<char*>(head), 9)) return false;
  return read_le64(head) <= kMaxHeader && head[8] == '{';
}

NamedTensors read_safetensors(const std::filesystem::path& file) {
  const std::string where = file.string();
  std::ifstream in(file, std::ios::binary);
  if (!in) throw InputError(where + ": cannot open: " + std::strerror(errno));
  const uint64_t size = std::filesystem::file_size(file);
  unsigned char len[8];
  if (size < 8 || !in.read(reinterpret_cast<char*>(len), 8)) throw InputError(where + ": not a safetensors file (shorter than its header length)");
  const uint64_t header_size = read_le64(len);
  if (header_size > kMaxHeader || header_size > size - 8)
    throw InputError(where + ": not a safetensors file (header length " + std::to_string(header_size) + " exceeds the file)");
  std::string header(header_size, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_size));
  nlohmann::json json = nlohmann::json::parse(header, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) throw InputError(where + ": the safetensors header is not a JSON object");
  const uint64_t data_size = size - 8 - header_size;

  struct Entry { std::string name; at::ScalarType dtype; std::vector<int64_t> shape; uint64_t begin, end; };
  std::vector<Entry> entries;
  for (auto it = json.begin(); it != json.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    const std::string at_name = where + ": tensor '" + it.key() + "'";
    const auto& v = it.value();
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets") ||
        !v["dtype"].is_string() || !v["shape"].is_array() || !v["data_offsets"].is_array() || v["data_offsets"].size() != 2)
      throw InputError(at_name + ": expected {dtype, shape, data_offsets: [begin, end]}");
    Entry e{it.key(), dtype_of(v["dtype"].get<std::string>(), at_name), {}, 0, 0};
    uint64_t numel = 1;
    for (const auto& d : v["shape"]) {
      if (!d.is_number_unsigned() || d.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
        throw InputError(at_name + ": shape entries must be non-negative 64-bit integers");
      e.shape.push_back(d.get<int64_t>());
      if (__builtin_mul_overflow(numel, d.get<uint64_t>(), &numel))
        throw InputError(at_name + ": its shape has more elements than 64 bits count");
    }
    if (!v["data_offsets"][0].is_number_unsigned() || !v["data_offsets"][1].is_number_unsigned())
      throw InputError(at_name + ": data_offsets must be non-negative integers");
    e.begin = v["data_offsets"][0].get<uint64_t>();
    e.end = v["data_offsets"][1].get<uint64_t>();
    if (e.begin > e.end || e.end > data_size)
      throw InputError(at_name + ": data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                       "] fall outside the " + std::to_string(data_size) + " data bytes");
    uint64_t bytes = 0;
    if (__builtin_mul_overflow(numel, static_cast<uint64_t>(at::elementSize(e.dtype)), &bytes) || e.end - e.begin != bytes)
      throw InputError(at_name + ": " + std::to_string(e.end - e.begin) + " bytes for " + std::to_string(numel) +
                       " elements of " + v["dtype"].get<std::string>());
    entries.push_back(std::move(e));
  }
  // The header is a JSON object (unordered); the file's order is the order of the bytes.
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.begin < b.begin; });
  NamedTensors out;
  for (const auto& e : entries) {
    at::Tensor t = at::empty(e.shape, at::TensorOptions().dtype(e.dtype));
    in.seekg(static_cast<std::streamoff>(8 + header_size + e.begin));
    if (!in.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(e.end - e.begin)))
      throw InputError(where + ": tensor '" + e.name + "': cannot read its bytes");
    out.emplace_back(e.name, t);
  }
  return out;
}

void write_safetensors(const std::filesystem::path& file, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<at::Tensor> data;
  std::set<std::string> seen;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    if (!seen.insert(name).second) throw RunError("safetensors: the name '" + name + "' is given twice");
    at::Tensor t = tensor.detach().to(at::kCPU).contiguous();
    const uint64_t bytes = static_cast<uint64_t>(t.numel()) * t.element_size();
    header[name] = {{"dtype", name_of(t.scalar_type())}, {"shape", t.sizes().vec()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    data.push_back(t);
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the format pads the header so the data starts 8-aligned
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  if (!out) throw RunError(file.string() + ": cannot write: " + std::strerror(errno));
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>((text.size() >> (8 * i)) & 0xff);
  out.write(reinterpret_cast<const char*>(len), 8);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  for (const auto& t : data) out.write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(t.numel() * t.element_size()));
  out.flush();
  if (!out) throw RunError(file.string() + ": write failed");
}

}  // namespace mmdebias::core
