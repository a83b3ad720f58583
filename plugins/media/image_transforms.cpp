#include "image_transforms.hpp"

#include <algorithm>
#include <cmath>

#include <ATen/ATen.h>

namespace mmdebias::media_plugin {
namespace {

// [1, 3, H, W] float -> out [1, 3, h, w] (contiguous: the caller's slot in a clip's frames, no copy after): bilinear
// with antialiasing, as torchvision's resize of tensors (antialias=True) and close to PIL's bilinear resize.
// Antialiasing changes only a shrink: an enlargement (every crop of RandomResizedCrop on frames no larger than the
// output) takes the plain kernel, equal within float rounding and ~2x faster.
void resize_into(const at::Tensor& x, at::Tensor& out) {
  const int64_t h = out.size(2), w = out.size(3);
  if (x.size(2) == h && x.size(3) == w) {
    out.copy_(x);
  } else if (h >= x.size(2) && w >= x.size(3)) {
    at::upsample_bilinear2d_out(out, x, {h, w}, /*align_corners=*/false, c10::nullopt, c10::nullopt);
  } else {
    at::_upsample_bilinear2d_aa_out(out, x, {h, w}, /*align_corners=*/false, c10::nullopt, c10::nullopt);
  }
}

// resize_into() a new tensor (x itself when it has the size already).
at::Tensor resize(const at::Tensor& x, int64_t h, int64_t w) {
  if (x.size(2) == h && x.size(3) == w) return x;
  at::Tensor out = at::empty({x.size(0), x.size(1), h, w}, x.options());
  resize_into(x, out);
  return out;
}

// uint8 [H, W, 3] -> float [1, 3, H, W], then ToTensor's 1/255 and Normalize in one affine pass per channel:
// x / 255 * (1 / std) - mean / std. A bilinear resize's weights sum to 1, so the affine map commutes with it: applied
// before an enlargement it touches fewer pixels.
at::Tensor to_float(const at::Tensor& rgb) { return rgb.permute({2, 0, 1}).unsqueeze(0).to(at::kFloat); }

void normalise_(at::Tensor& x, const ImageTransform& t) {
  std::vector<double> scale(3), shift(3);
  for (size_t c = 0; c < 3; ++c) {
    scale[c] = 1.0 / (255.0 * t.std[c]);
    shift[c] = -t.mean[c] / t.std[c];
  }
  x.mul_(at::tensor(scale, at::kFloat).view({1, 3, 1, 1})).add_(at::tensor(shift, at::kFloat).view({1, 3, 1, 1}));
}

double uniform(std::mt19937_64& rng, double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng); }

}  // namespace

Draw draw_crop(int64_t height, int64_t width, std::mt19937_64& rng) {
  const double area = static_cast<double>(height) * width;
  const double log_lo = std::log(3.0 / 4.0), log_hi = std::log(4.0 / 3.0);
  Draw d;
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * uniform(rng, 0.08, 1.0);
    const double aspect = std::exp(uniform(rng, log_lo, log_hi));
    const int64_t w = std::llround(std::sqrt(target * aspect)), h = std::llround(std::sqrt(target / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      d.top = std::uniform_int_distribution<int64_t>(0, height - h)(rng);
      d.left = std::uniform_int_distribution<int64_t>(0, width - w)(rng);
      d.height = h;
      d.width = w;
      d.flip = std::bernoulli_distribution(0.5)(rng);
      return d;
    }
  }
  const double ratio = static_cast<double>(width) / height;  // the central crop at the nearest allowed ratio
  int64_t w = width, h = height;
  if (ratio < 3.0 / 4.0) h = std::llround(w / (3.0 / 4.0));
  else if (ratio > 4.0 / 3.0) w = std::llround(h * (4.0 / 3.0));
  d.top = (height - h) / 2;
  d.left = (width - w) / 2;
  d.height = h;
  d.width = w;
  d.flip = std::bernoulli_distribution(0.5)(rng);
  return d;
}

at::Tensor transform_image(const at::Tensor& rgb, const ImageTransform& t, const Draw& draw) {
  at::Tensor out = at::empty({3, t.size, t.size}, at::kFloat);
  transform_image_into(rgb, t, draw, out);
  return out;
}

void transform_image_into(const at::Tensor& rgb, const ImageTransform& t, const Draw& draw, at::Tensor out) {
  at::Tensor slot = out.unsqueeze(0);
  if (t.train) {
    // The crop first, so that only its pixels are converted and normalised; flipped while still uint8 (a bilinear
    // resize samples symmetrically, so flipping before it is flipping after it), then resized into out.
    at::Tensor crop = rgb.narrow(0, draw.top, draw.height).narrow(1, draw.left, draw.width);
    if (draw.flip) crop = crop.flip({1});
    at::Tensor x = to_float(crop);
    normalise_(x, t);
    resize_into(x, slot);
    return;
  }
  if (t.eval_center_crop) {
    const at::Tensor x = to_float(rgb);
    const int64_t short_side = t.size * 256 / 224, h = x.size(2), w = x.size(3);
    const int64_t nh = h <= w ? short_side : short_side * h / w, nw = h <= w ? short_side * w / h : short_side;
    slot.copy_(resize(x, nh, nw).narrow(2, (nh - t.size) / 2, t.size).narrow(3, (nw - t.size) / 2, t.size));
  } else {
    resize_into(to_float(rgb), slot);
  }
  normalise_(slot, t);
}

}  // namespace mmdebias::media_plugin
