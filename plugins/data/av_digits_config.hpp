// data.av_digits: options (Config, its declaration and read_config), stable hashing, and the reader of scikit-learn's digits.
// Header-only (inline) so the tests can read the same digits file the dataset reads.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <zlib.h>

#include "mmdebias/sdk/bind.hpp"
#include "mmdebias/sdk/components.hpp"
#include "mmdebias/sdk/fingerprint.hpp"

namespace mmdebias::data_plugin::av_digits {

namespace fs = std::filesystem;
namespace sdk = mmdebias::sdk;

inline constexpr const char* kName = "data.av_digits";
inline const std::vector<std::string> kSplits = {"train", "val", "test"};
inline constexpr const char* kSklearnDigits = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz";
inline constexpr int64_t kNfft = 512, kHop = 256, kMels = 40, kRate = 22050;

using Fnv = sdk::Fnv1a64;

inline uint64_t stable_hash(uint64_t seed, const std::string& purpose, const std::string& split, int64_t index) {
  Fnv f;
  f.text(kName);
  f.u64(seed);
  f.text(purpose);
  f.text(split);
  f.u64(static_cast<uint64_t>(index));
  return f.h;
}

inline at::Generator generator_for(uint64_t h) { return at::detail::createCPUGenerator((h ^ (h >> 32)) & 0xffffffffull); }

/// The options of data.av_digits, then what read_config resolves from them.
struct Config {
  std::string digits_path;
  std::vector<std::string> voices;
  std::vector<int64_t> speeds, pitches;
  int64_t frames = 0;
  double snr_db = 0, occlusion = 0, train_fraction = 0, val_fraction = 0;
  std::vector<int64_t> ood_digits;
  std::vector<std::string> held_voices;  // the option ood_voices
  double ood_voice_fraction = 0;
  bool normalize = false, debug = false;
  std::string espeak;
  int64_t seed = 0;
  // Resolved by read_config.
  sdk::Options options;
  std::string split;
  std::vector<int64_t> id_digits;
  std::vector<int64_t> id_voices, ood_voices;  // indices into voices
  uint64_t data_seed = 0;
  fs::path cache_root;
  int64_t window() const { return (frames - 1) * kHop; }

  static void declare(sdk::OptionBinder<Config>& b) {
    b.option("digits_path", &Config::digits_path, kSklearnDigits,
             "scikit-learn's digits.csv.gz (Debian package python3-sklearn)");
    b.option("voices", &Config::voices, {"en", "en-us", "en-gb-x-rp", "en+f3", "en+m3"},
             "espeak-ng voices (see `espeak-ng --voices`; 22050 Hz voices only); one group per ID voice");
    b.option("speeds", &Config::speeds, {140, 175, 210}, "espeak-ng speeds (words per minute)").range(80, 450);
    b.option("pitches", &Config::pitches, {30, 50, 70}, "espeak-ng pitches").range(0, 99);
    b.option("frames", &Config::frames, 48,
             "Log-mel frames (hop 256 at 22050 Hz; the waveform window is (frames-1)*256 samples, 48 -> 0.55 s)")
        .range(2, 1024);
    b.option("snr_db", &Config::snr_db, 40.0, "SNR in dB of white Gaussian noise added to the speech before the features")
        .range(-40.0, 200.0);
    b.option("occlusion", &Config::occlusion, 0.0, "Fraction of the image side covered by a zero square at a random position")
        .range(0.0, 1.0);
    b.option("train_fraction", &Config::train_fraction, 0.7, "Fraction of the 1797 images in train").range(0.0, 1.0);
    b.option("val_fraction", &Config::val_fraction, 0.1, "Fraction of the images in val (test gets the rest)").range(0.0, 1.0);
    b.option("ood_digits", &Config::ood_digits, {}, "Digits held out of train/val; OOD in test (label and group -1)").range(0, 9);
    b.option("ood_voices", &Config::held_voices, {},
             "Voices held out of train/val and of ID samples; used only by OOD test samples");
    b.option("ood_voice_fraction", &Config::ood_voice_fraction, 0.5,
             "With ood_voices: extra OOD test samples (ID-digit test images with a held-out voice), as a fraction "
             "of the ID-digit test images")
        .range(0.0, 1.0);
    b.option("normalize", &Config::normalize, true, "Standardise each log-mel map to zero mean and unit std");
    b.option("debug", &Config::debug, false,
             "Also serve 'waveform', 'clean_waveform' and 'utterance' (digit, voice, speed, pitch)");
    b.option("espeak", &Config::espeak, "espeak-ng", "The espeak-ng program (name on PATH or path)");
    b.option("seed", &Config::seed, -1, "Data seed; -1 uses the run seed").at_least(-1);
  }
};

inline fs::path default_cache_root() {
  auto env = [](const char* n) { const char* v = std::getenv(n); return (v && *v) ? v : nullptr; };
  if (const char* d = env("MMDEBIAS_CACHE_DIR")) return d;
  if (const char* d = env("XDG_CACHE_HOME")) return fs::path(d) / "mmdebias";
  if (const char* d = env("HOME")) return fs::path(d) / ".cache" / "mmdebias";
  return "/tmp/mmdebias-cache";
}

inline Config read_config(const sdk::BuildArgs& args) {
  const std::string who = std::string(kName) + ": ";
  Config c = sdk::bind<Config>(args.options);
  c.options = args.options;
  c.data_seed = c.seed == -1 ? args.seed : static_cast<uint64_t>(c.seed);
  c.split = args.split.empty() ? "train" : args.split;
  c.cache_root = args.cache_dir.empty() ? default_cache_root() : fs::path(args.cache_dir);

  if (c.voices.empty() || c.speeds.empty() || c.pitches.empty())
    throw std::invalid_argument(who + "voices, speeds and pitches each need at least one value");
  if (std::set<std::string>(c.voices.begin(), c.voices.end()).size() != c.voices.size())
    throw std::invalid_argument(who + "voices lists a voice twice");
  std::set<std::string> held(c.held_voices.begin(), c.held_voices.end());
  for (const auto& v : held)
    if (std::find(c.voices.begin(), c.voices.end(), v) == c.voices.end())
      throw std::invalid_argument(who + "ood_voices names '" + v + "', which is not in voices");
  for (size_t i = 0; i < c.voices.size(); ++i)
    (held.count(c.voices[i]) ? c.ood_voices : c.id_voices).push_back(static_cast<int64_t>(i));
  if (c.id_voices.empty()) throw std::invalid_argument(who + "ood_voices holds out every voice; keep at least one");
  std::set<int64_t> od(c.ood_digits.begin(), c.ood_digits.end());
  for (int64_t d = 0; d < 10; ++d) if (!od.count(d)) c.id_digits.push_back(d);
  if (c.id_digits.size() < 2)
    throw std::invalid_argument(who + "ood_digits leaves " + std::to_string(c.id_digits.size()) +
                                " in-distribution digit(s); at least 2 are needed");
  if (c.train_fraction + c.val_fraction > 1.0 + 1e-12)
    throw std::invalid_argument(who + "train_fraction + val_fraction is more than 1");
  if (std::find(kSplits.begin(), kSplits.end(), c.split) == kSplits.end())
    throw std::invalid_argument(who + "no split '" + c.split + "'; its splits: train, val, test");
  return c;
}

/// scikit-learn's digits: rows of 64 pixel values 0..16 then the label.
inline void load_digits(const std::string& path, std::vector<uint8_t>& pixels, std::vector<int64_t>& labels) {
  const std::string who = std::string(kName) + ": ";
  const std::string hint = "; it comes with the Debian package python3-sklearn (apt-get install python3-sklearn), "
                           "or set digits_path to a copy of scikit-learn's digits.csv.gz";
  if (!fs::is_regular_file(path)) throw std::runtime_error(who + "no digits file at '" + path + "'" + hint);
  gzFile gz = gzopen(path.c_str(), "rb");
  if (!gz) throw std::runtime_error(who + "cannot open '" + path + "'" + hint);
  std::string text;
  char buf[1 << 16];
  int got;
  while ((got = gzread(gz, buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(got));
  const bool failed = got < 0;
  gzclose(gz);
  if (failed) throw std::runtime_error(who + "'" + path + "' is not a readable gzip file" + hint);
  size_t line_no = 0, pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::vector<int64_t> v;
    const char* p = line.c_str();
    while (*p) {
      char* q;
      const double x = std::strtod(p, &q);
      if (q == p) break;
      v.push_back(static_cast<int64_t>(std::llround(x)));
      p = q;
      while (*p == ',' || *p == ' ' || *p == '\r' || *p == '\t') ++p;
    }
    if (v.size() != 65 || v[64] < 0 || v[64] > 9 ||
        std::any_of(v.begin(), v.begin() + 64, [](int64_t x) { return x < 0 || x > 16; }))
      throw std::runtime_error(who + path + ":" + std::to_string(line_no) +
                               ": expected 64 pixel values 0..16 and a label 0..9, comma-separated");
    for (int i = 0; i < 64; ++i) pixels.push_back(static_cast<uint8_t>(v[static_cast<size_t>(i)]));
    labels.push_back(v[64]);
  }
  if (labels.empty()) throw std::runtime_error(who + "'" + path + "' holds no digits");
}

}  // namespace mmdebias::data_plugin::av_digits
