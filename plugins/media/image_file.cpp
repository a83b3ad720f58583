#include "image_file.hpp"

#include <png.h>
#include <turbojpeg.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "mmdebias/sdk/data.hpp"

namespace mmdebias::media_plugin {
namespace {

constexpr int64_t kMaxPixels = int64_t{1} << 28;  // 268 M pixels: a header claiming more is corrupt, not a photo

[[noreturn]] void fail(const std::filesystem::path& file, const std::string& what) {
  throw sdk::DataError(file.string() + ": " + what);
}

std::vector<unsigned char> read_bytes(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary | std::ios::ate);
  if (!in) fail(file, std::string("cannot open: ") + std::strerror(errno));
  std::vector<unsigned char> bytes(static_cast<size_t>(in.tellg()));
  in.seekg(0);
  if (!in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()))) fail(file, "cannot read it");
  return bytes;
}

struct TjHandle {
  tjhandle h = tjInitDecompress();
  ~TjHandle() { if (h) tjDestroy(h); }
};

at::Tensor decode_jpeg(const std::filesystem::path& file, const std::vector<unsigned char>& bytes) {
  TjHandle tj;
  if (!tj.h) fail(file, "cannot start the JPEG decoder");
  int width = 0, height = 0, subsampling = 0, colorspace = 0;
  if (tjDecompressHeader3(tj.h, bytes.data(), bytes.size(), &width, &height, &subsampling, &colorspace) != 0)
    fail(file, std::string("not a readable JPEG: ") + tjGetErrorStr2(tj.h));
  if (width < 1 || height < 1 || int64_t{width} * height > kMaxPixels)
    fail(file, "a JPEG of " + std::to_string(width) + "x" + std::to_string(height) + " pixels");
  at::Tensor out = at::empty({height, width, 3}, at::kByte);
  // Accurate DCT, as PIL (libjpeg's default ISLOW) decodes: the same pixels PyTorch users get from Image.open.
  if (tjDecompress2(tj.h, bytes.data(), bytes.size(), out.data_ptr<uint8_t>(), width, 0, height, TJPF_RGB, TJFLAG_ACCURATEDCT) != 0 &&
      tjGetErrorCode(tj.h) == TJERR_FATAL)
    fail(file, std::string("a corrupt JPEG: ") + tjGetErrorStr2(tj.h));
  return out;
}

at::Tensor decode_png(const std::filesystem::path& file, const std::vector<unsigned char>& bytes) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, bytes.data(), bytes.size()))
    fail(file, std::string("not a readable PNG: ") + image.message);
  if (int64_t{image.width} * image.height > kMaxPixels) {
    png_image_free(&image);
    fail(file, "a PNG of " + std::to_string(image.width) + "x" + std::to_string(image.height) + " pixels");
  }
  image.format = PNG_FORMAT_RGB;  // grey, palette and 16-bit converted by libpng; an alpha channel is composited away
  at::Tensor out = at::empty({static_cast<int64_t>(image.height), static_cast<int64_t>(image.width), 3}, at::kByte);
  if (!png_image_finish_read(&image, nullptr, out.data_ptr<uint8_t>(), 0, nullptr))
    fail(file, std::string("a corrupt PNG: ") + image.message);
  return out;
}

}  // namespace

at::Tensor read_image(const std::filesystem::path& file) {
  const std::vector<unsigned char> bytes = read_bytes(file);
  if (bytes.size() >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF) return decode_jpeg(file, bytes);
  if (bytes.size() >= 8 && std::memcmp(bytes.data(), "\x89PNG\r\n\x1a\n", 8) == 0) return decode_png(file, bytes);
  fail(file, "neither JPEG nor PNG (by its first bytes)");
}

}  // namespace mmdebias::media_plugin
