// Audio features as the multimodal-balancing literature computes them: OGM-GE's CREMA-D log-magnitude STFT
// (librosa.stft, n_fft 512, hop 353: log(|S| + 1e-7)) and a log-mel spectrogram, both with LibTorch's stft.
#pragma once

#include <ATen/core/Tensor.h>

namespace mmdebias::media_plugin {

/// STFT settings: a periodic Hann window of n_fft samples, centred frames (the signal reflect-padded by n_fft / 2,
/// as librosa < 0.10 and torch.stft's default), hop samples apart.
struct StftSettings {
  int64_t n_fft = 512;  ///< FFT size (and window length).
  int64_t hop = 353;    ///< Samples between frames.
};

/// log(|STFT(wave)| + 1e-7): [n_fft / 2 + 1, 1 + L / hop] for a waveform [L].
at::Tensor log_stft(const at::Tensor& wave, const StftSettings& s);

/// log(mel(|STFT|^2) + 1e-6): [mels, 1 + L / hop]; mel filters as librosa's defaults (Slaney scale and norm) over
/// [0, rate / 2].
at::Tensor log_mel(const at::Tensor& wave, const StftSettings& s, int64_t rate, int64_t mels);

}  // namespace mmdebias::media_plugin
