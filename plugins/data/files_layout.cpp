// The on-disk layout of data.files (see files_layout.hpp and docs/files-format.md).
#include "files_layout.hpp"

#include <algorithm>
#include <stdexcept>

#include "mmdebias/sdk/data.hpp"

namespace mmdebias::data_plugin::files {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void fail(const std::string& what) { throw sdk::DataError("data.files: " + what); }

}  // namespace

const std::vector<std::string> kColumns = {"label", "group", "environment", "ood"};

bool is_column(const std::string& n) { return std::find(kColumns.begin(), kColumns.end(), n) != kColumns.end(); }

/// The .npy names (without extension) in a directory, sorted.
std::vector<std::string> npy_names(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".npy" && e.is_regular_file(ec)) out.push_back(e.path().stem().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

/// Reads the headers of one split and checks the files agree on N and on their shapes.
SplitFiles open_split(const fs::path& root, const std::string& split, const std::vector<std::string>& modalities) {
  const fs::path dir = root / split;
  SplitFiles s;
  s.name = split;
  const fs::path label = dir / "label.npy";
  if (!fs::exists(label))
    fail(label.string() + ": missing; every split needs label.npy (int [N]): np.save(\"" + label.string() + "\", y)");
  s.label = npy::read_header(label.string());
  auto column = [&](const npy::Array& a, const char* what, bool allow_bool) {
    if (a.shape.size() != 1)
      fail(a.path + ": " + what + " must be 1-D [N], found " + std::to_string(a.shape.size()) + " dimensions");
    if (npy::is_float(a.dtype) || (!allow_bool && a.dtype == npy::DType::Bool))
      fail(a.path + ": " + what + " must be an integer array (<i8, <i4, |u1), found " + npy::descr_name(a.dtype));
  };
  column(s.label, "label", false);
  const int64_t n = s.label.rows();
  auto same_n = [&](const npy::Array& a) {
    if (a.rows() != n)
      fail("mismatched sample counts in split '" + split + "': " + a.path + " has " + std::to_string(a.rows()) +
           " rows but " + s.label.path + " has " + std::to_string(n));
  };
  auto optional_column = [&](const char* name, bool allow_bool) -> std::optional<npy::Array> {
    const fs::path p = dir / (std::string(name) + ".npy");
    if (!fs::exists(p)) return std::nullopt;
    npy::Array a = npy::read_header(p.string());
    column(a, name, allow_bool);
    same_n(a);
    return a;
  };
  s.group = optional_column("group", false);
  s.environment = optional_column("environment", false);
  s.ood = optional_column("ood", true);
  for (const auto& m : modalities) {
    const fs::path p = dir / (m + ".npy");
    if (!fs::exists(p)) fail(p.string() + ": missing; modality '" + m + "' has no file in split '" + split + "'");
    npy::Array a = npy::read_header(p.string());
    if (a.shape.empty()) fail(a.path + ": a 0-d array; a modality needs shape [N, ...]");
    same_n(a);
    s.modalities.push_back(std::move(a));
  }
  return s;
}

bool is_tokens(const npy::Array& a) { return a.dtype == npy::DType::I64 || a.dtype == npy::DType::I32; }

std::vector<int64_t> sample_shape(const npy::Array& a) {
  std::vector<int64_t> s(a.shape.begin() + 1, a.shape.end());
  if (s.empty()) s.push_back(1);  // a 1-D array is one feature per sample
  return s;
}

}  // namespace mmdebias::data_plugin::files
