// data.av_digits, audio side: espeak-ng synthesis into a shared cache, RIFF/WAV parsing, silence trimming,
// noise at a given SNR, and log-mel features (at::stft + a triangular HTK mel filterbank).
// Header-only (inline) so the tests can call the same code on the files the dataset generated.
#pragma once

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/ATen.h>

extern char** environ;

namespace mmdebias::data_plugin::av_digits {

namespace fs = std::filesystem;

/// The words espeak-ng speaks, by digit.
inline const std::vector<std::string>& digit_words() {
  static const std::vector<std::string> w = {"zero", "one", "two", "three", "four",
                                             "five", "six", "seven", "eight", "nine"};
  return w;
}

/// A mono waveform in [-1, 1).
struct Wave {
  int64_t sample_rate = 0;
  std::vector<float> samples;
};

/// The whole content of a file (throws with the path when unreadable).
inline std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline uint32_t le32(const std::string& b, size_t at) {
  return static_cast<uint32_t>(static_cast<unsigned char>(b[at])) |
         (static_cast<uint32_t>(static_cast<unsigned char>(b[at + 1])) << 8) |
         (static_cast<uint32_t>(static_cast<unsigned char>(b[at + 2])) << 16) |
         (static_cast<uint32_t>(static_cast<unsigned char>(b[at + 3])) << 24);
}
inline uint16_t le16(const std::string& b, size_t at) {
  return static_cast<uint16_t>(static_cast<unsigned char>(b[at]) | (static_cast<unsigned char>(b[at + 1]) << 8));
}

/// Parses a 16-bit PCM mono RIFF/WAVE file: walks the chunks to find "fmt " and "data" (any order, other chunks
/// skipped, odd sizes padded); a data size past the end of the file (as written to a pipe) is clamped to the file.
inline Wave parse_wav(const std::string& b, const std::string& where) {
  auto bad = [&](const std::string& why) { return std::runtime_error(where + ": not a usable WAV file: " + why); };
  if (b.size() < 12 || b.compare(0, 4, "RIFF") != 0 || b.compare(8, 4, "WAVE") != 0)
    throw bad("no RIFF/WAVE header");
  bool have_fmt = false;
  uint16_t format = 0, channels = 0, bits = 0;
  uint32_t rate = 0;
  size_t pos = 12;
  while (pos + 8 <= b.size()) {
    const std::string id = b.substr(pos, 4);
    uint64_t size = le32(b, pos + 4);
    const size_t body = pos + 8;
    if (body + size > b.size()) size = b.size() - body;
    if (id == "fmt ") {
      if (size < 16) throw bad("'fmt ' chunk of " + std::to_string(size) + " bytes");
      format = le16(b, body);
      channels = le16(b, body + 2);
      rate = le32(b, body + 4);
      bits = le16(b, body + 14);
      have_fmt = true;
    } else if (id == "data") {
      if (!have_fmt) throw bad("'data' chunk before 'fmt '");
      if ((format != 1 && format != 0xFFFE) || bits != 16 || channels != 1)
        throw bad("format " + std::to_string(format) + ", " + std::to_string(channels) + " channel(s), " +
                  std::to_string(bits) + " bits; 16-bit PCM mono is needed");
      if (rate == 0) throw bad("sample rate 0");
      Wave w;
      w.sample_rate = rate;
      const size_t n = static_cast<size_t>(size / 2);
      w.samples.resize(n);
      for (size_t i = 0; i < n; ++i)
        w.samples[i] = static_cast<float>(static_cast<int16_t>(le16(b, body + 2 * i))) / 32768.0f;
      return w;
    }
    pos = body + static_cast<size_t>(size) + (size & 1);
  }
  throw bad(have_fmt ? "no 'data' chunk" : "no 'fmt ' chunk");
}

/// The samples between the first and last one whose magnitude reaches 2% of the peak (espeak-ng pads silence).
inline std::vector<float> trim_silence(const std::vector<float>& x) {
  float peak = 0;
  for (float v : x) peak = std::max(peak, std::fabs(v));
  if (peak == 0) return {};
  const float thr = 0.02f * peak;
  size_t a = 0, e = x.size();
  while (a < e && std::fabs(x[a]) < thr) ++a;
  while (e > a && std::fabs(x[e - 1]) < thr) --e;
  return std::vector<float>(x.begin() + static_cast<std::ptrdiff_t>(a), x.begin() + static_cast<std::ptrdiff_t>(e));
}

/// Runs `program args...` without a shell (arguments are never interpreted), stderr captured; throws on failure.
inline void run_program(const std::string& program, const std::vector<std::string>& args, const fs::path& err_file) {
  std::vector<std::string> all = {program};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, program.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  std::string cmd;
  for (const auto& a : all) cmd += (cmd.empty() ? "" : " ") + a;
  const std::string install = "; install the Debian package espeak-ng (apt-get install espeak-ng)";
  if (rc == ENOENT || rc == EACCES) {
    std::error_code ec;
    fs::remove(err_file, ec);
    throw std::runtime_error("cannot run '" + program + "' (" + std::strerror(rc) + ")" + install);
  }
  if (rc != 0) throw std::runtime_error("cannot start '" + cmd + "': " + std::strerror(rc));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw std::runtime_error("waiting for '" + cmd + "': " + std::strerror(errno));
  }
  std::string err;
  try { err = read_bytes(err_file); } catch (...) {}
  std::error_code ec;
  fs::remove(err_file, ec);
  while (!err.empty() && (err.back() == '\n' || err.back() == '\r')) err.pop_back();
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
    throw std::runtime_error("cannot run '" + program + "' (exit code 127)" + install);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error("'" + cmd + "' failed (" +
                             (WIFEXITED(status) ? "exit code " + std::to_string(WEXITSTATUS(status))
                                                : "signal " + std::to_string(WTERMSIG(status))) +
                             ")" + (err.empty() ? std::string() : ": " + err));
}

/// Synthesises `word` into `out` unless it exists: espeak-ng -v VOICE -s SPEED -p PITCH -w TMP WORD, then an
/// atomic rename, so several processes can fill the same cache (the last rename wins; the files are identical).
inline void synthesize(const std::string& program, const std::string& voice, int64_t speed, int64_t pitch,
                       const std::string& word, const fs::path& out) {
  if (fs::exists(out)) return;
  static std::atomic<uint64_t> counter{0};
  const std::string tag = ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  const fs::path tmp = out.string() + tag;
  const fs::path err = out.string() + tag + ".err";
  try {
    run_program(program, {"-v", voice, "-s", std::to_string(speed), "-p", std::to_string(pitch), "-w", tmp.string(), word},
                err);
    parse_wav(read_bytes(tmp), tmp.string());  // never publish a broken file
    fs::rename(tmp, out);
  } catch (...) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw;
  }
}

/// Triangular mel filterbank [n_mels, n_fft/2 + 1]: HTK mel scale m = 2595 log10(1 + f/700), n_mels + 2 edges
/// equally spaced in mel from 0 Hz to sample_rate/2, unit-peak triangles evaluated at the FFT bin frequencies.
inline at::Tensor mel_filterbank(int64_t n_mels, int64_t n_fft, double sample_rate) {
  auto hz_to_mel = [](double f) { return 2595.0 * std::log10(1.0 + f / 700.0); };
  auto mel_to_hz = [](double m) { return 700.0 * (std::pow(10.0, m / 2595.0) - 1.0); };
  const int64_t bins = n_fft / 2 + 1;
  const double top = hz_to_mel(sample_rate / 2.0);
  std::vector<double> edge(static_cast<size_t>(n_mels + 2));
  for (int64_t i = 0; i < n_mels + 2; ++i) edge[static_cast<size_t>(i)] = mel_to_hz(top * static_cast<double>(i) / (n_mels + 1));
  at::Tensor fb = at::zeros({n_mels, bins}, at::kFloat);
  auto a = fb.accessor<float, 2>();
  for (int64_t m = 0; m < n_mels; ++m) {
    const double lo = edge[static_cast<size_t>(m)], c = edge[static_cast<size_t>(m + 1)], hi = edge[static_cast<size_t>(m + 2)];
    for (int64_t k = 0; k < bins; ++k) {
      const double f = static_cast<double>(k) * sample_rate / static_cast<double>(n_fft);
      double w = 0;
      if (f > lo && f < hi) w = f <= c ? (f - lo) / (c - lo) : (hi - f) / (hi - c);
      a[m][k] = static_cast<float>(w);
    }
  }
  return fb;
}

/// log(mel power + 1e-6) of waveforms [n, L]: |STFT|^2 (n_fft, hop, periodic Hann window, centred with reflect
/// padding, so 1 + L / hop frames), times the filterbank -> [n, n_mels, 1 + L / hop].
inline at::Tensor log_mel(const at::Tensor& waves, const at::Tensor& filterbank, int64_t n_fft, int64_t hop) {
  const at::Tensor window = at::hann_window(n_fft, at::TensorOptions().dtype(at::kFloat));
  const at::Tensor spec = at::stft(waves, n_fft, hop, n_fft, window, /*center=*/true, "reflect", /*normalized=*/false,
                                   /*onesided=*/true, /*return_complex=*/true);
  const at::Tensor power = spec.abs().pow(2);  // [n, bins, frames]
  return at::log(at::matmul(filterbank, power) + 1e-6);
}

/// SNR in dB of noisy against clean over the first n samples: 10 log10(mean clean^2 / mean (noisy - clean)^2).
inline double measured_snr_db(const at::Tensor& clean, const at::Tensor& noisy, int64_t n) {
  const at::Tensor c = clean.narrow(0, 0, n).to(at::kDouble), d = noisy.narrow(0, 0, n).to(at::kDouble) - c;
  return 10.0 * std::log10(c.pow(2).mean().item<double>() / d.pow(2).mean().item<double>());
}

}  // namespace mmdebias::data_plugin::av_digits
