// Decoding image files: JPEG with libjpeg-turbo's TurboJPEG API, PNG with libpng's simplified API; both the
// libraries Debian (and PIL) use. Anything else is refused by its first bytes, not its name.
#pragma once

#include <filesystem>

#include <ATen/core/Tensor.h>

namespace mmdebias::media_plugin {

/// The image as uint8 RGB [H, W, 3] (grey and palette images expanded, alpha dropped). Throws sdk::DataError naming
/// the file and the decoder's reason.
at::Tensor read_image(const std::filesystem::path& file);

}  // namespace mmdebias::media_plugin
