#include "preset_layouts.hpp"

#include <algorithm>
#include <cstring>
#include <fstream>

#include <boost/algorithm/string/split.hpp>
#include <boost/algorithm/string/trim.hpp>

#include "mmdebias/sdk/data.hpp"

namespace mmdebias::media_plugin {
namespace {

namespace fs = std::filesystem;

// The non-empty fields of each non-blank line, split at any of separators, with their 1-based line numbers.
std::vector<std::pair<int64_t, std::vector<std::string>>> split_lines(const fs::path& file, const char* separators) {
  std::ifstream in(file);
  if (!in) throw sdk::DataError(file.string() + ": cannot open it (the preset's tree is drawn in docs/datasets.md)");
  std::vector<std::pair<int64_t, std::vector<std::string>>> out;
  std::string text;
  int64_t line = 0;
  while (std::getline(in, text)) {
    ++line;
    if (line == 1 && text.rfind("\xEF\xBB\xBF", 0) == 0) text = text.substr(3);  // a UTF-8 byte order mark
    boost::algorithm::trim(text);
    if (text.empty()) continue;
    std::vector<std::string> fields;
    boost::algorithm::split(fields, text, [&](char c) { return std::strchr(separators, c) != nullptr; });
    fields.erase(std::remove(fields.begin(), fields.end(), std::string()), fields.end());
    out.emplace_back(line, std::move(fields));
  }
  return out;
}

[[noreturn]] void fail(const fs::path& file, int64_t line, const std::string& what) {
  throw sdk::DataError(file.string() + ":" + std::to_string(line) + ": " + what);
}

int64_t entries_in(const fs::path& folder, bool jpg_only) {
  int64_t n = 0;
  for (const auto& f : fs::directory_iterator(folder)) {
    const std::string name = f.path().filename().string();
    if (!jpg_only || (name.size() >= 3 && name.compare(name.size() - 3, 3, "jpg") == 0)) ++n;
  }
  return n;
}

}  // namespace

Preset preset_of(const std::string& name) {
  if (name == "cremad") return Preset::Cremad;
  if (name == "kinetics_sounds") return Preset::KineticsSounds;
  if (name == "ave") return Preset::Ave;
  return Preset::None;
}

std::vector<std::string> preset_splits(Preset) { return {"train", "test"}; }

fs::path preset_split_file(Preset preset, const fs::path& root, const std::string& split) {
  switch (preset) {
    case Preset::Cremad: return root / (split + ".csv");
    case Preset::KineticsSounds: return root / ("ks_" + split + "_overlap.txt");
    case Preset::Ave: return root / ("my_" + split + ".txt");
    case Preset::None: break;
  }
  throw std::logic_error("media.clips: no preset");
}

ClipFiles preset_files(Preset preset, const fs::path& root, const std::string& split, const std::string& clip) {
  switch (preset) {
    case Preset::Cremad: return {root / "AudioWAV" / (clip + ".wav"), root / "Image-01-FPS" / clip};
    case Preset::KineticsSounds: return {root / (split + "_spec") / (clip + ".npy"), root / (split + "-frames-1fps") / split / clip};
    case Preset::Ave: {  // the release's pickled spectrogram, or the same array saved with np.save
      const fs::path pkl = root / "audio_spec" / (clip + ".pkl"), npy = root / "audio_spec" / (clip + ".npy");
      std::error_code ec;
      return {fs::exists(pkl, ec) || !fs::exists(npy, ec) ? pkl : npy, root / "visual" / clip};
    }
    case Preset::None: break;
  }
  throw std::logic_error("media.clips: no preset");
}

Index read_preset_split(Preset preset, const fs::path& root, const std::string& split) {
  const fs::path file = preset_split_file(preset, root, split);
  Index index;
  index.file = file;
  index.columns = {"clip", "label"};
  std::error_code ec;
  if (preset == Preset::Cremad) {  // "clip,EMO", every row kept (a missing file is an error, as the release's)
    for (auto& [line, fields] : split_lines(file, ",")) {
      if (fields.size() != 2) fail(file, line, "expected \"clip,emotion\", got " + std::to_string(fields.size()) + " fields");
      index.rows.push_back({line, {{"clip", fields[0]}, {"label", fields[1]}}});
    }
    return index;
  }
  if (preset == Preset::KineticsSounds) {  // "clip ... label" (spaces; OGM-GE's copies use commas)
    for (auto& [line, fields] : split_lines(file, " ,\t")) {
      if (fields.size() < 2) fail(file, line, "expected \"clip ... label\", got one field");
      const ClipFiles files = preset_files(preset, root, split, fields.front());
      if (!fs::is_regular_file(files.audio, ec)) continue;  // KSDataset keeps only clips with a spectrogram
      if (!fs::is_directory(files.frames, ec)) fail(file, line, "visual: no folder " + files.frames.string());
      if (entries_in(files.frames, false) <= 3) continue;  // ... and more than 3 files in their frame folder
      index.rows.push_back({line, {{"clip", fields.front()}, {"label", fields.back()}}});
    }
    return index;
  }
  // ave: "Class,clip,..."; a clip listed again is dropped, a third time kept again (the release toggles it).
  for (auto& [line, fields] : split_lines(file, ",")) {
    if (fields.size() < 2) fail(file, line, "expected \"Class,clip,...\", got one field");
    const ClipFiles files = preset_files(preset, root, split, fields[1]);
    if (!fs::is_regular_file(files.audio, ec) || !fs::is_directory(files.frames, ec)) continue;
    auto same = std::find_if(index.rows.begin(), index.rows.end(), [&](const IndexRow& r) { return r.fields.at("clip") == fields[1]; });
    if (same != index.rows.end()) index.rows.erase(same);
    else index.rows.push_back({line, {{"clip", fields[1]}, {"label", fields[0]}}});
  }
  return index;
}

std::vector<std::string> preset_classes(Preset preset, const fs::path& root) {
  if (preset == Preset::Cremad) return {"NEU", "HAP", "SAD", "FEA", "DIS", "ANG"};  // OGM-GE's class_dict order
  if (preset != Preset::Ave) return {};
  std::vector<std::string> names;
  for (auto& [line, fields] : split_lines(root / "stat.txt", ",")) names.push_back(fields.front());
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> preset_frame_names(Preset preset, int64_t file_count, bool train, std::mt19937_64& rng) {
  if (preset != Preset::KineticsSounds && preset != Preset::Ave) return {};
  const int64_t pick = 3, seg = file_count / pick;
  std::vector<std::string> names;
  for (int64_t i = 0; i < pick; ++i) {
    int64_t t = seg * i + 1;  // ave: the first frame of each segment, in training too
    if (preset == Preset::KineticsSounds) {
      if (train) {
        t = file_count > 6 ? std::uniform_int_distribution<int64_t>(i * seg + 1, i * seg + seg)(rng) : 1;
        t = std::min<int64_t>(t, 9);  // KSDataset caps training draws at frame 9
      } else {
        t = file_count > 6 ? i * seg + std::max<int64_t>(seg / 2, 1) : 1;
      }
    }
    names.push_back("frame_0000" + std::to_string(t) + ".jpg");  // the release's name, digits as they come
  }
  return names;
}

}  // namespace mmdebias::media_plugin
