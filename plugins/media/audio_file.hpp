// Reading audio files (WAV, FLAC, OGG/Vorbis... whatever libsndfile reads) as one mono waveform at a chosen
// sample rate: channels averaged, resampled with libsoxr (librosa's default resampler) where the file's rate differs.
#pragma once

#include <filesystem>

#include <ATen/core/Tensor.h>

namespace mmdebias::media_plugin {

/// The file's samples as float32 [L] in [-1, 1] at `rate` Hz (mono: the mean of its channels). Throws
/// sdk::DataError naming the file and libsndfile's or libsoxr's reason.
at::Tensor read_audio(const std::filesystem::path& file, int64_t rate);

}  // namespace mmdebias::media_plugin
