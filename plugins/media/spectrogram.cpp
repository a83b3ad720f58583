#include "spectrogram.hpp"

#include <cmath>

#include <ATen/ATen.h>

namespace mmdebias::media_plugin {
namespace {

at::Tensor magnitude(const at::Tensor& wave, const StftSettings& s) {
  const at::Tensor window = at::hann_window(s.n_fft, /*periodic=*/true, at::kFloat);
  at::Tensor padded = at::reflection_pad1d(wave.view({1, 1, -1}), {s.n_fft / 2, s.n_fft / 2}).view({-1});
  at::Tensor spec = at::stft(padded, s.n_fft, s.hop, s.n_fft, window, /*normalized=*/false, /*onesided=*/true,
                             /*return_complex=*/true);
  return spec.abs();  // [n_fft / 2 + 1, frames]
}

// Slaney's mel scale (librosa's default, htk=False): linear below 1 kHz, logarithmic above.
double hz_to_mel(double hz) {
  const double f_sp = 200.0 / 3, min_log_hz = 1000.0, min_log_mel = min_log_hz / f_sp, logstep = std::log(6.4) / 27.0;
  return hz < min_log_hz ? hz / f_sp : min_log_mel + std::log(hz / min_log_hz) / logstep;
}
double mel_to_hz(double mel) {
  const double f_sp = 200.0 / 3, min_log_hz = 1000.0, min_log_mel = min_log_hz / f_sp, logstep = std::log(6.4) / 27.0;
  return mel < min_log_mel ? mel * f_sp : min_log_hz * std::exp(logstep * (mel - min_log_mel));
}

// Triangular filters [mels, bins] with Slaney's area normalisation (librosa.filters.mel defaults).
at::Tensor mel_filters(int64_t rate, int64_t n_fft, int64_t mels) {
  const int64_t bins = n_fft / 2 + 1;
  std::vector<double> edges(mels + 2);
  const double lo = hz_to_mel(0.0), hi = hz_to_mel(rate / 2.0);
  for (int64_t i = 0; i < mels + 2; ++i) edges[i] = mel_to_hz(lo + (hi - lo) * i / (mels + 1));
  at::Tensor w = at::zeros({mels, bins}, at::kDouble);
  auto a = w.accessor<double, 2>();
  for (int64_t m = 0; m < mels; ++m) {
    const double left = edges[m], centre = edges[m + 1], right = edges[m + 2];
    for (int64_t k = 0; k < bins; ++k) {
      const double f = static_cast<double>(k) * rate / n_fft;
      const double up = (f - left) / (centre - left), down = (right - f) / (right - centre);
      a[m][k] = std::max(0.0, std::min(up, down)) * 2.0 / (right - left);
    }
  }
  return w.to(at::kFloat);
}

}  // namespace

at::Tensor log_stft(const at::Tensor& wave, const StftSettings& s) { return at::log(magnitude(wave, s) + 1e-7); }

at::Tensor log_mel(const at::Tensor& wave, const StftSettings& s, int64_t rate, int64_t mels) {
  const at::Tensor power = magnitude(wave, s).pow(2);
  return at::log(at::matmul(mel_filters(rate, s.n_fft, mels), power) + 1e-6);
}

}  // namespace mmdebias::media_plugin
