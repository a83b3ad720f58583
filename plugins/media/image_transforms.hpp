// The image transforms of torchvision that the literature's loaders use (OGM-GE, BalanceBenchmark), on float
// tensors with LibTorch's own kernels: RandomResizedCrop + RandomHorizontalFlip in training, Resize((s, s)) or
// Resize + CenterCrop in evaluation, then ToTensor's scaling and Normalize. Random draws come from the caller's
// generator, so a sample's transform is a function of the run seed and its index.
#pragma once

#include <array>
#include <cstdint>
#include <random>

#include <ATen/core/Tensor.h>

namespace mmdebias::media_plugin {

/// How one image (or every frame of one clip) is transformed.
struct ImageTransform {
  int64_t size = 224;                 ///< Output side.
  bool train = false;                 ///< Random resized crop and flip (train) or the evaluation resize.
  bool eval_center_crop = false;      ///< Evaluation: Resize(size * 256 / 224) then CenterCrop(size); else Resize((size, size)).
  std::array<double, 3> mean{0.485, 0.456, 0.406};  ///< Normalize's mean (ImageNet's).
  std::array<double, 3> std{0.229, 0.224, 0.225};   ///< Normalize's std.
};

/// The crop and flip drawn for one sample (all its frames share them).
struct Draw {
  int64_t top = 0, left = 0, height = 0, width = 0;  ///< Crop box in the source image.
  bool flip = false;                                   ///< Horizontal flip.
};

/// torchvision's RandomResizedCrop.get_params (scale [0.08, 1], ratio [3/4, 4/3], 10 tries, then the central crop)
/// and a fair coin for the flip, for an image of height x width.
Draw draw_crop(int64_t height, int64_t width, std::mt19937_64& rng);

/// uint8 RGB [H, W, 3] -> normalised float [3, size, size]; draw is used in training only.
at::Tensor transform_image(const at::Tensor& rgb, const ImageTransform& t, const Draw& draw);

/// transform_image written into out (float [3, size, size], contiguous: a frame's slot in its clip's tensor).
void transform_image_into(const at::Tensor& rgb, const ImageTransform& t, const Draw& draw, at::Tensor out);

}  // namespace mmdebias::media_plugin
