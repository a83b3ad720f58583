// data.av_digits: options (Config, read_config), stable hashing, and the reader of scikit-learn's digits.
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

struct Config {
  sdk::Options options;
  std::string digits_path, espeak, split;
  std::vector<std::string> voices;
  std::vector<int64_t> speeds, pitches, ood_digits, id_digits;
  std::vector<int64_t> id_voices, ood_voices;  // indices into voices
  int64_t frames = 48;
  double snr_db = 40, occlusion = 0, train_fraction = 0.7, val_fraction = 0.1, ood_voice_fraction = 0.5;
  bool normalize = true, debug = false;
  uint64_t data_seed = 0;
  fs::path cache_root;
  int64_t window() const { return (frames - 1) * kHop; }
};

inline fs::path default_cache_root() {
  auto env = [](const char* n) { const char* v = std::getenv(n); return (v && *v) ? v : nullptr; };
  if (const char* d = env("MMDEBIAS_CACHE_DIR")) return d;
  if (const char* d = env("XDG_CACHE_HOME")) return fs::path(d) / "mmdebias";
  if (const char* d = env("HOME")) return fs::path(d) / ".cache" / "mmdebias";
  return "/tmp/mmdebias-cache";
}

inline Config read_config(const sdk::BuildArgs& args) {
  const auto& o = args.options;
  const std::string who = std::string(kName) + ": ";
  Config c;
  c.options = o;
  c.digits_path = o.string("digits_path");
  c.espeak = o.string("espeak");
  c.voices = o.strings("voices");
  c.speeds = o.integers("speeds");
  c.pitches = o.integers("pitches");
  c.frames = o.integer("frames");
  c.snr_db = o.number("snr_db");
  c.occlusion = o.number("occlusion");
  c.train_fraction = o.number("train_fraction");
  c.val_fraction = o.number("val_fraction");
  c.ood_digits = o.integers("ood_digits");
  c.ood_voice_fraction = o.number("ood_voice_fraction");
  c.normalize = o.boolean("normalize");
  c.debug = o.boolean("debug");
  const int64_t seed = o.integer("seed");
  c.data_seed = seed == -1 ? args.seed : static_cast<uint64_t>(seed);
  c.split = args.split.empty() ? "train" : args.split;
  c.cache_root = args.cache_dir.empty() ? default_cache_root() : fs::path(args.cache_dir);

  if (c.voices.empty() || c.speeds.empty() || c.pitches.empty())
    throw std::invalid_argument(who + "voices, speeds and pitches each need at least one value");
  if (std::set<std::string>(c.voices.begin(), c.voices.end()).size() != c.voices.size())
    throw std::invalid_argument(who + "voices lists a voice twice");
  std::set<std::string> held(o.strings("ood_voices").begin(), o.strings("ood_voices").end());
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
