// A clip's frames from its folder of extracted JPEG/PNG frames: which frames (one per equal segment, or the ones a
// preset's release opens by name), decoded and transformed into one [T, 3, s, s] tensor with one crop and flip.
#pragma once

#include <cstdint>
#include <filesystem>
#include <random>

#include <ATen/core/Tensor.h>

#include "image_transforms.hpp"
#include "preset_layouts.hpp"

namespace mmdebias::media_plugin {

/// Which frames of a folder, and how they are transformed.
struct FramePick {
  Preset preset = Preset::None;  ///< kinetics_sounds and ave pick by the releases' rules; others by segment.
  int64_t count = 3;             ///< Frames per clip (by segment: random within it in training, its middle otherwise).
  ImageTransform transform;      ///< Size, training or evaluation, normalisation.
};

/// The clip's frames [T, 3, s, s]; throws sdk::DataError naming the folder or file when a frame is missing, unreadable,
/// or smaller than the clip's first.
at::Tensor read_clip_frames(const std::filesystem::path& folder, const FramePick& pick, std::mt19937_64& rng);

}  // namespace mmdebias::media_plugin
