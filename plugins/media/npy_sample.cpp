#include "npy_sample.hpp"

#include <fstream>

#include <ATen/ATen.h>

#include "mmdebias/sdk/data.hpp"
#include "npy/npy_file.hpp"
#include "numpy_pickle.hpp"

namespace mmdebias::media_plugin {
namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

bool pickled(const std::filesystem::path& file) { return file.extension() == ".pkl"; }

void check_shape(const std::filesystem::path& file, const std::vector<int64_t>& shape, const std::vector<int64_t>& expected) {
  if (shape != expected)
    throw sdk::DataError(file.string() + ": an array of shape " + shape_text(shape) + " where the column's first file has " +
                         shape_text(expected) + " (every sample of a column must have one shape)");
}

}  // namespace

std::vector<int64_t> npy_shape(const std::filesystem::path& file) {
  if (pickled(file)) return read_numpy_pickle(file).sizes().vec();
  return npy::read_header(file.string()).shape;
}

at::Tensor read_npy_sample(const std::filesystem::path& file, const std::vector<int64_t>& expected) {
  if (pickled(file)) {
    at::Tensor t = read_numpy_pickle(file);
    check_shape(file, t.sizes().vec(), expected);
    return t.to(at::kFloat);
  }
  const npy::Array a = npy::read_header(file.string());  // checks the header and that the data is all there
  check_shape(file, a.shape, expected);
  at::Tensor out = at::empty(a.shape, at::TensorOptions().dtype(npy::scalar_type(a.dtype)));
  std::ifstream in(file, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(a.data_offset));
  in.read(static_cast<char*>(out.data_ptr()), static_cast<std::streamsize>(a.data_bytes()));
  if (static_cast<size_t>(in.gcount()) != a.data_bytes()) throw sdk::DataError(file.string() + ": the data section was cut short while reading");
  return out.to(at::kFloat);
}

}  // namespace mmdebias::media_plugin
