// The layouts of the literature that media.clips reads as they lie (docs/datasets.md draws each tree):
//   cremad           OGM-GE's CREMA-D: AudioWAV/<clip>.wav, Image-01-FPS/<clip>/*.jpg, train.csv / test.csv "clip,EMO".
//   kinetics_sounds  BalanceBenchmark's Kinetics-Sounds (KSDataset): ks_<split>_overlap.txt lines "clip ... label",
//                    <split>_spec/<clip>.npy spectrograms, <split>-frames-1fps/<split>/<clip>/frame_0000<t>.jpg.
//   ave              OGM-GE's AVE (dataset/dataset.py): my_<split>.txt lines "Class,clip,...", stat.txt class names,
//                    audio_spec/<clip>.pkl (pickled numpy spectrograms; or .npy), visual/<clip>/frame_0000<t>.jpg.
// Which clips each release keeps and which frames it opens are reproduced here, so a preset sees the samples it does.
#pragma once

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "media_index.hpp"

namespace mmdebias::media_plugin {

/// A preset by its option value.
enum class Preset { None, Cremad, KineticsSounds, Ave };

/// The preset named (none, cremad, kinetics_sounds, ave).
Preset preset_of(const std::string& name);

/// The splits a preset's tree has.
std::vector<std::string> preset_splits(Preset preset);

/// The split file of split under root.
std::filesystem::path preset_split_file(Preset preset, const std::filesystem::path& root, const std::string& split);

/// The rows of split the release keeps, each with the fields "clip" and "label" (a class name for cremad and ave, a
/// class index for kinetics_sounds). kinetics_sounds keeps clips with a spectrogram and more than 3 files in their
/// frame folder; ave keeps clips with both, and drops a clip listed an even number of times (as the release's loop).
Index read_preset_split(Preset preset, const std::filesystem::path& root, const std::string& split);

/// Class names in label order (cremad: OGM-GE's six emotions; ave: stat.txt's names sorted; kinetics_sounds: none, the
/// labels are indices).
std::vector<std::string> preset_classes(Preset preset, const std::filesystem::path& root);

/// Where a clip's audio file (.wav for cremad, a .npy spectrogram for kinetics_sounds, ave's .pkl or .npy) and frame
/// folder are.
struct ClipFiles {
  std::filesystem::path audio, frames;
};
/// The files of clip in split.
ClipFiles preset_files(Preset preset, const std::filesystem::path& root, const std::string& split, const std::string& clip);

/// kinetics_sounds and ave: the names of the 3 frames the release opens in a folder of file_count frames (train: drawn
/// from rng for kinetics_sounds). Empty for cremad, whose frames are sampled by segment like any folder.
std::vector<std::string> preset_frame_names(Preset preset, int64_t file_count, bool train, std::mt19937_64& rng);

}  // namespace mmdebias::media_plugin
