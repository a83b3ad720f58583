// The .npy reader of data.files and media.clips (see npy_file.hpp and docs/files-format.md).
#include "npy/npy_file.hpp"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "mmdebias/sdk/data.hpp"

namespace mmdebias::npy {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw sdk::DataError(path + ": " + what);  // the dataset that reads it says which it is
}

bool host_little_endian() {
  const uint16_t one = 1;
  unsigned char b;
  std::memcpy(&b, &one, 1);
  return b == 1;
}

/// The value text after 'key': in a header dict (position of its first non-space character).
size_t value_of(const std::string& path, const std::string& dict, const std::string& key) {
  size_t k = dict.find("'" + key + "'");
  if (k == std::string::npos) k = dict.find("\"" + key + "\"");
  if (k == std::string::npos) fail(path, "malformed header: no '" + key + "' key in " + dict);
  size_t c = dict.find(':', k + key.size() + 2);
  if (c == std::string::npos) fail(path, "malformed header: no value for '" + key + "' in " + dict);
  ++c;
  while (c < dict.size() && std::isspace(static_cast<unsigned char>(dict[c]))) ++c;
  return c;
}

DType parse_descr(const std::string& path, const std::string& dict) {
  const size_t v = value_of(path, dict, "descr");
  if (v >= dict.size() || (dict[v] != '\'' && dict[v] != '"'))
    fail(path, "unsupported dtype: a structured or record dtype (descr is not a plain string); save one plain "
               "array per file");
  const size_t end = dict.find(dict[v], v + 1);
  if (end == std::string::npos) fail(path, "malformed header: unterminated descr string");
  std::string d = dict.substr(v + 1, end - v - 1);
  if (d.size() >= 2 && d[0] == '>' && d.substr(1) != "u1" && d.substr(1) != "b1" && d.substr(1) != "i1")
    fail(path, "big-endian dtype '" + d + "' is not supported; save it little-endian, e.g. np.save(path, "
               "x.astype(x.dtype.newbyteorder('<')))");
  if (!d.empty() && d[0] == '=') {
    if (!host_little_endian()) fail(path, "native-order dtype '" + d + "' on a big-endian host is not supported");
    d[0] = '<';
  }
  if (d == "<f4") return DType::F32;
  if (d == "<f8") return DType::F64;
  if (d == "<f2") return DType::F16;
  if (d == "<i8") return DType::I64;
  if (d == "<i4") return DType::I32;
  if (d == "|u1" || d == "<u1" || d == ">u1") return DType::U8;
  if (d == "|b1" || d == "<b1" || d == ">b1") return DType::Bool;
  fail(path, "unsupported dtype '" + d + "'; supported: <f4 <f8 <f2 (dense), <i8 <i4 (tokens, columns), |u1, |b1");
}

bool parse_fortran(const std::string& path, const std::string& dict) {
  const size_t v = value_of(path, dict, "fortran_order");
  if (dict.compare(v, 4, "True") == 0) return true;
  if (dict.compare(v, 5, "False") == 0) return false;
  fail(path, "malformed header: fortran_order is neither True nor False");
}

std::vector<int64_t> parse_shape(const std::string& path, const std::string& dict) {
  const size_t v = value_of(path, dict, "shape");
  if (v >= dict.size() || dict[v] != '(') fail(path, "malformed header: shape is not a tuple");
  const size_t end = dict.find(')', v);
  if (end == std::string::npos) fail(path, "malformed header: unterminated shape tuple");
  std::vector<int64_t> shape;
  size_t i = v + 1;
  while (i < end) {
    while (i < end && (std::isspace(static_cast<unsigned char>(dict[i])) || dict[i] == ',')) ++i;
    if (i >= end) break;
    size_t j = i;
    while (j < end && std::isdigit(static_cast<unsigned char>(dict[j]))) ++j;
    if (j == i) fail(path, "malformed header: shape " + dict.substr(v, end - v + 1) + " holds a non-integer");
    try {
      shape.push_back(std::stoll(dict.substr(i, j - i)));
    } catch (const std::exception&) {
      fail(path, "malformed header: shape dimension " + dict.substr(i, j - i) + " is too large");
    }
    // Trailing 'L' of Python 2 longs.
    if (j < end && (dict[j] == 'L' || dict[j] == 'l')) ++j;
    i = j;
  }
  return shape;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

// Every product Array forms from the shape (row_elements, row_bytes, data_bytes, and data_offset plus it) must
// fit in int64, in the order it is formed: a wrapped product would pass map_data's size check and let rows be
// read past the end of the mapping.
void check_size(const std::string& path, const std::vector<int64_t>& shape, DType dtype) {
  int64_t n = 1;
  bool wraps = false;
  for (size_t i = 1; i < shape.size(); ++i) wraps = wraps || __builtin_mul_overflow(n, shape[i], &n);
  int64_t bytes = 0;
  wraps = wraps || __builtin_mul_overflow(n, static_cast<int64_t>(item_size(dtype)), &bytes);
  wraps = wraps || __builtin_mul_overflow(shape.empty() ? int64_t{1} : shape[0], bytes, &bytes);
  wraps = wraps || __builtin_add_overflow(bytes, int64_t{1} << 33, &bytes);  // data_offset < 2^33
  if (wraps)
    fail(path, "shape " + shape_text(shape) + " is too large: its size in bytes does not fit in 63 bits");
}

// A file shorter than its header's shape says: cut short by a copy or a download, or being rewritten.
void check_complete(const std::string& path, const std::vector<int64_t>& shape, DType dtype, size_t data_offset,
                    size_t file_size) {
  int64_t elements = 1;
  for (int64_t d : shape) elements *= d;  // check_size has ruled out overflow
  const size_t need = data_offset + static_cast<size_t>(elements) * item_size(dtype);
  if (file_size < need)
    fail(path, "truncated data: the header's shape " + shape_text(shape) + " of " + descr_name(dtype) + " needs " +
                   std::to_string(need) + " bytes but the file has " + std::to_string(file_size));
}

}  // namespace

const char* descr_name(DType t) {
  switch (t) {
    case DType::F32: return "<f4";
    case DType::F64: return "<f8";
    case DType::F16: return "<f2";
    case DType::I64: return "<i8";
    case DType::I32: return "<i4";
    case DType::U8: return "|u1";
    case DType::Bool: return "|b1";
  }
  return "?";
}

size_t item_size(DType t) {
  switch (t) {
    case DType::F32: case DType::I32: return 4;
    case DType::F64: case DType::I64: return 8;
    case DType::F16: return 2;
    case DType::U8: case DType::Bool: return 1;
  }
  return 1;
}

c10::ScalarType scalar_type(DType t) {
  switch (t) {
    case DType::F32: return c10::ScalarType::Float;
    case DType::F64: return c10::ScalarType::Double;
    case DType::F16: return c10::ScalarType::Half;
    case DType::I64: return c10::ScalarType::Long;
    case DType::I32: return c10::ScalarType::Int;
    case DType::U8: return c10::ScalarType::Byte;
    case DType::Bool: return c10::ScalarType::Bool;
  }
  return c10::ScalarType::Float;
}

bool is_float(DType t) { return t == DType::F32 || t == DType::F64 || t == DType::F16; }

int64_t Array::row_elements() const {
  int64_t n = 1;
  for (size_t i = 1; i < shape.size(); ++i) n *= shape[i];
  return n;
}

void Array::map_data() {
  if (map) return;
  auto m = std::make_shared<const Mapping>(path);
  check_complete(path, shape, dtype, data_offset, m->size());
  map = std::move(m);
}

int64_t Array::integer_at(int64_t i) const noexcept {
  const unsigned char* p = map->data() + data_offset + static_cast<size_t>(i) * item_size(dtype);
  switch (dtype) {
    case DType::I64: { int64_t v; std::memcpy(&v, p, 8); return v; }
    case DType::I32: { int32_t v; std::memcpy(&v, p, 4); return v; }
    case DType::U8: return *p;
    case DType::Bool: return *p != 0 ? 1 : 0;
    default: return 0;
  }
}

Array read_header(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, std::string("cannot open: ") + std::strerror(errno));
  in.seekg(0, std::ios::end);
  const auto size = static_cast<size_t>(in.tellg());
  in.seekg(0);
  unsigned char pre[12] = {};
  in.read(reinterpret_cast<char*>(pre), 8);
  const auto got = static_cast<size_t>(in.gcount());
  static const unsigned char kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (got < 6 || std::memcmp(pre, kMagic, 6) != 0)
    fail(path, "bad magic: not a .npy file (it must start with \\x93NUMPY; write it with numpy.save)");
  if (got < 8) fail(path, "truncated header: the file ends inside the version bytes");
  const int major = pre[6], minor = pre[7];
  if (major < 1 || major > 3 || minor != 0)
    fail(path, "unsupported .npy format version " + std::to_string(major) + "." + std::to_string(minor) +
                   " (supported: 1.0, 2.0, 3.0)");
  const size_t len_bytes = major == 1 ? 2 : 4;
  in.read(reinterpret_cast<char*>(pre + 8), static_cast<std::streamsize>(len_bytes));
  if (static_cast<size_t>(in.gcount()) < len_bytes) fail(path, "truncated header: the file ends inside the header length");
  size_t hlen = 0;
  for (size_t i = 0; i < len_bytes; ++i) hlen |= static_cast<size_t>(pre[8 + i]) << (8 * i);
  const size_t prefix = 8 + len_bytes;
  if (prefix + hlen > size)
    fail(path, "truncated header: it declares " + std::to_string(hlen) + " header bytes but the file has only " +
                   std::to_string(size - prefix) + " after the length field");
  std::string dict(hlen, '\0');
  in.read(dict.data(), static_cast<std::streamsize>(hlen));
  if (static_cast<size_t>(in.gcount()) < hlen) fail(path, "truncated header: short read");
  const size_t open = dict.find('{');
  if (open == std::string::npos || dict.find('}') == std::string::npos)
    fail(path, "malformed header: no {...} dictionary");

  Array a;
  a.path = path;
  a.dtype = parse_descr(path, dict);
  if (parse_fortran(path, dict))
    fail(path, "fortran_order True is not supported; save a C-ordered array (np.save(path, np.ascontiguousarray(x)))");
  a.shape = parse_shape(path, dict);
  check_size(path, a.shape, a.dtype);
  a.data_offset = prefix + hlen;
  check_complete(path, a.shape, a.dtype, a.data_offset, size);
  a.file_size = size;
  a.header.assign(reinterpret_cast<const char*>(pre), prefix);
  a.header += dict;
  return a;
}

}  // namespace mmdebias::npy
