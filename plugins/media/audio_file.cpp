#include "audio_file.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include <soxr.h>
#include <sndfile.h>

#include <ATen/ATen.h>

#include "mmdebias/sdk/data.hpp"

namespace mmdebias::media_plugin {
namespace {

struct CloseFile {
  void operator()(SNDFILE* f) const { sf_close(f); }
};

constexpr int64_t kMaxSamples = int64_t{1} << 31;  // 13.5 hours at 44.1 kHz: more is a corrupt header
constexpr int kMinRate = 1000, kMaxRate = 768000;   // telephone-band recordings to studio rates

[[noreturn]] void fail(const std::filesystem::path& file, const std::string& what) {
  throw sdk::DataError(file.string() + ": " + what);
}

}  // namespace

at::Tensor read_audio(const std::filesystem::path& file, int64_t rate) {
  SF_INFO info{};
  std::unique_ptr<SNDFILE, CloseFile> f(sf_open(file.c_str(), SFM_READ, &info));
  if (!f) fail(file, std::string("cannot read it as audio: ") + sf_strerror(nullptr));
  if (info.channels < 1 || info.samplerate < 1) fail(file, "no channels or no sample rate in its header");
  // Rates outside what audio is recorded at are a corrupt header (libsoxr crashes on ratios like 22050 / 1.3e9).
  if (info.samplerate < kMinRate || info.samplerate > kMaxRate)
    fail(file, "an implausible sample rate in its header (" + std::to_string(info.samplerate) + " Hz; " +
                   std::to_string(kMinRate) + " to " + std::to_string(kMaxRate) + " are read)");
  // A header's length is believed up to what the file could hold (compressed formats: 64x its bytes) and 2^31 samples.
  std::error_code ec;
  const int64_t bytes = static_cast<int64_t>(std::filesystem::file_size(file, ec));
  const int64_t most = std::min<int64_t>(kMaxSamples, 64 * bytes + 4096);
  if (info.frames < 0 || info.channels > 4096 || info.frames > most / info.channels)
    fail(file, "an implausible length in its header (" + std::to_string(info.frames) + " frames of " +
                   std::to_string(info.channels) + " channels in " + std::to_string(bytes) + " bytes)");
  std::vector<float> interleaved(static_cast<size_t>(info.frames) * info.channels);
  const sf_count_t got = sf_readf_float(f.get(), interleaved.data(), info.frames);
  if (got != info.frames)
    fail(file, "its data ends after " + std::to_string(got) + " of the " + std::to_string(info.frames) + " frames its header gives");
  at::Tensor wave = at::from_blob(interleaved.data(), {info.frames, info.channels}, at::kFloat).mean(1);
  if (info.samplerate == rate) return wave.contiguous().clone();

  // libsoxr at its HQ quality: what librosa (>= 0.10) resamples with by default (res_type "soxr_hq"). libsamplerate's
  // best sinc converter was measured 4x slower end to end on CREMA-D-shaped clips (docs/benchmarks.md, "Reading media").
  const double ratio = static_cast<double>(rate) / info.samplerate;
  const int64_t out_frames = static_cast<int64_t>(std::llround(info.frames * ratio));
  if (out_frames > kMaxSamples) fail(file, "resampled from " + std::to_string(info.samplerate) + " Hz it would hold too many samples");
  at::Tensor in = wave.contiguous();
  at::Tensor out = at::empty({out_frames}, at::kFloat);
  const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  const soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
  size_t done = 0;
  if (soxr_error_t error = soxr_oneshot(info.samplerate, static_cast<double>(rate), 1, in.data_ptr<float>(),
                                        static_cast<size_t>(info.frames), nullptr, out.data_ptr<float>(),
                                        static_cast<size_t>(out_frames), &done, &io, &quality, nullptr))
    fail(file, std::string("resampling from ") + std::to_string(info.samplerate) + " Hz failed: " + error);
  return out.narrow(0, 0, static_cast<int64_t>(done)).clone();
}

}  // namespace mmdebias::media_plugin
