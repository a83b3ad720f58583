// A minimal, strict reader of NumPy .npy files for the plugins that read them (data.files, media.clips): header
// parsing without reading the data, and a read-only memory mapping of the data section (npy_mapping.hpp).
//
// Accepted: format versions 1.0, 2.0 and 3.0; C order; little-endian (or native on a little-endian host)
// dtypes <f4 <f8 <f2 <i8 <i4 |u1 |b1. Every malformed file gives sdk::DataError (a std::invalid_argument)
// naming the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <c10/core/ScalarType.h>

#include "npy/npy_mapping.hpp"

namespace mmdebias::npy {

/// The element types data.files reads.
enum class DType { F32, F64, F16, I64, I32, U8, Bool };

/// The .npy descr of a dtype ("<f4", "|u1").
const char* descr_name(DType t);
/// Bytes per element.
size_t item_size(DType t);
/// The matching ATen scalar type.
c10::ScalarType scalar_type(DType t);
/// True for f4, f8, f2.
bool is_float(DType t);

/// One .npy file: its header, and (after map()) its data.
struct Array {
  std::string path;             ///< File path, as given.
  DType dtype = DType::F32;     ///< Element type.
  std::vector<int64_t> shape;   ///< Full shape, first dimension = number of rows.
  size_t data_offset = 0;       ///< Where the data section starts.
  size_t file_size = 0;         ///< Size of the file when the header was read.
  std::string header;           ///< The raw header bytes (magic to end of the dict).
  std::shared_ptr<const Mapping> map;  ///< Set by map().

  /// Number of rows (shape[0]; 1 for a 0-d array).
  int64_t rows() const { return shape.empty() ? 1 : shape[0]; }
  /// Elements per row (product of shape[1:]).
  int64_t row_elements() const;
  /// Bytes per row.
  size_t row_bytes() const { return static_cast<size_t>(row_elements()) * item_size(dtype); }
  /// Bytes the data section must hold.
  size_t data_bytes() const { return static_cast<size_t>(rows()) * row_bytes(); }
  /// Start of row i (map_data() must have been called; read it inside read_guarded()).
  const unsigned char* row(int64_t i) const { return map->data() + data_offset + static_cast<size_t>(i) * row_bytes(); }
  /// Maps the file and checks its data section is complete (throws naming the file when truncated).
  void map_data();
  /// Element i of an integer or bool array as int64 (map_data() first; read it inside read_guarded(), which is why
  /// it never throws: the columns' dtypes are checked when their files are opened, and any other dtype reads 0).
  int64_t integer_at(int64_t i) const noexcept;
};

/// Reads and validates the header of path (only the header bytes are read), and checks from the file's size that
/// its data section is complete.
Array read_header(const std::string& path);

}  // namespace mmdebias::npy
