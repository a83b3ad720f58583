#include "clip_frames.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "image_file.hpp"
#include "mmdebias/sdk/data.hpp"

namespace mmdebias::media_plugin {
namespace {

namespace fs = std::filesystem;

// The frames' files [T, 3, s, s], each decoded and transformed straight into its slot; one crop and flip for all.
at::Tensor decode(const std::vector<fs::path>& files, const ImageTransform& transform, std::mt19937_64& rng) {
  const int64_t size = transform.size;
  at::Tensor out = at::empty({static_cast<int64_t>(files.size()), 3, size, size}, at::kFloat);
  Draw draw;
  for (size_t t = 0; t < files.size(); ++t) {
    const at::Tensor rgb = read_image(files[t]);
    if (t == 0) draw = draw_crop(rgb.size(0), rgb.size(1), rng);
    if (rgb.size(0) < draw.top + draw.height || rgb.size(1) < draw.left + draw.width)
      throw sdk::DataError(files[t].string() + ": smaller than the clip's first frame");
    transform_image_into(rgb, transform, draw, out[static_cast<int64_t>(t)]);
  }
  return out;
}

// kinetics_sounds and ave: the 3 frames the release opens by name (a name the folder lacks is an error). count: the
// frames for KSDataset, every file for OGM-GE's AVE.
std::vector<fs::path> by_release(const fs::path& folder, const FramePick& pick, int64_t count, std::mt19937_64& rng) {
  std::vector<fs::path> picked;
  for (const std::string& name : preset_frame_names(pick.preset, count, pick.transform.train, rng)) {
    picked.push_back(folder / name);
    if (!fs::is_regular_file(picked.back()))
      throw sdk::DataError(picked.back().string() + ": no such frame (the release opens it by this name)");
  }
  return picked;
}

}  // namespace

at::Tensor read_clip_frames(const fs::path& folder, const FramePick& pick, std::mt19937_64& rng) {
  std::vector<fs::path> files;
  int64_t entries = 0;  // every file, frame or not (OGM-GE's AVE counts them all)
  for (const auto& f : fs::directory_iterator(folder)) {
    ++entries;
    std::string ext = f.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
    if (ext == ".jpg" || ext == ".jpeg" || ext == ".png") files.push_back(f.path());
  }
  if (files.empty()) throw sdk::DataError(folder.string() + ": no JPEG or PNG frame");
  if (pick.preset == Preset::KineticsSounds || pick.preset == Preset::Ave)
    return decode(by_release(folder, pick, pick.preset == Preset::Ave ? entries : static_cast<int64_t>(files.size()), rng),
                  pick.transform, rng);
  std::sort(files.begin(), files.end());
  const int64_t T = pick.count, n = static_cast<int64_t>(files.size());
  const double segment = static_cast<double>(n) / T;
  std::vector<fs::path> picked;
  for (int64_t t = 0; t < T; ++t) {
    const double offset = pick.transform.train ? std::uniform_real_distribution<double>(0.0, 1.0)(rng) : 0.5;
    picked.push_back(files[static_cast<size_t>(std::min(n - 1, static_cast<int64_t>(std::floor(segment * (t + offset)))))]);
  }
  return decode(picked, pick.transform, rng);
}

}  // namespace mmdebias::media_plugin
