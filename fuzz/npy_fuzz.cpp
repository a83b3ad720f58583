// Fuzzes the data.files readers: the .npy header parser, the data-section check and row reads
// (plugins/common/npy/npy_file.cpp), and the split layout checks (files_layout.cpp) on a split of fuzzed files.
//
// Input: one .npy file. It is written as the split's modality file and, cut at its first "\x93NUMPY" after
// the start (when there is one), as label.npy, so header, shape and dtype mismatches between files are reached.
// Expected: success, or std::invalid_argument naming the file. Anything else is a finding.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "files_layout.hpp"
#include "npy/npy_file.hpp"

namespace {

namespace fs = std::filesystem;
using namespace mmdebias::data_plugin;
namespace npy = mmdebias::npy;

const fs::path& root() {
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("mmdebias-fuzz-npy-" + std::to_string(::getpid()));
    fs::create_directories(d / "train");
    return d;
  }();
  return dir;
}

void write(const fs::path& path, const char* data, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data, static_cast<std::streamsize>(size));
}

// Reads every row the way FilesDataset::prepare and get do (after map_data checked the size).
void read_rows(const npy::Array& a) {
  if (a.row_bytes() == 0) return;  // shape (N, 0): nothing to read, however large N is
  volatile unsigned sink = 0;
  for (int64_t i = 0; i < a.rows(); ++i) {
    const unsigned char* p = a.row(i);
    for (size_t b = 0; b < a.row_bytes(); ++b) sink = sink + p[b];
    if (a.shape.size() == 1 && !npy::is_float(a.dtype)) sink = sink + static_cast<unsigned>(a.integer_at(i));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const char* bytes = reinterpret_cast<const char*>(data);
  const fs::path split = root() / "train";
  size_t cut = size;
  for (size_t i = 1; i + 6 <= size; ++i)
    if (std::memcmp(bytes + i, "\x93NUMPY", 6) == 0) { cut = i; break; }
  write(split / "x.npy", bytes, cut);
  const bool two = cut < size;
  if (two) write(split / "label.npy", bytes + cut, size - cut);
  else fs::remove(split / "label.npy");

  try {
    npy::Array a = npy::read_header((split / "x.npy").string());
    a.map_data();
    read_rows(a);
  } catch (const std::invalid_argument&) {
  }
  if (!two) return 0;
  try {
    files::SplitFiles s = files::open_split(root(), "train", {"x"});
    s.label.map_data();
    read_rows(s.label);
    for (auto& m : s.modalities) {
      m.map_data();
      read_rows(m);
      files::sample_shape(m);
    }
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
