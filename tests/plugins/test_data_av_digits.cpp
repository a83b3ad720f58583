// data.av_digits through the real loader: laziness, determinism and cache reuse, the SNR of the generated audio,
// held-out digits and voices, image/audio digit agreement, log-mel shape, and the errors for missing inputs.
// Small synthesis grids (2-3 voices, 1 speed, 1 pitch) keep it to a few seconds.
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "../../plugins/data/av_digits_audio.hpp"
#include "mmdebias/core/errors.hpp"
#include "std_helpers.hpp"

#include <doctest/doctest.h>

using namespace stdtest;
namespace fs = std::filesystem;
namespace av = mmdebias::data_plugin::av_digits;

namespace {

using Given = std::map<std::string, sdk::OptionValue>;
const char* kDigits = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz";

/// A fresh, not yet existing directory under the system temp dir, removed at scope exit.
struct TempDir {
  fs::path path;
  TempDir() {
    static int n = 0;
    path = fs::temp_directory_path() / ("mmdebias-av-test-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    fs::remove_all(path);
  }
  ~TempDir() { std::error_code ec; fs::remove_all(path, ec); }
};

std::shared_ptr<sdk::Dataset> av_digits(const std::string& split, const fs::path& cache, Given given = {},
                                        uint64_t run_seed = 0) {
  sdk::BuildArgs a;
  a.name = "data";
  a.split = split;
  a.seed = run_seed;
  a.cache_dir = cache.string();
  a.options = options("data.av_digits", std::move(given));
  return registry().make_dataset("data.av_digits", a);
}

/// Small grid: 2 voices, 1 speed, 1 pitch; debug modalities on.
Given small(Given extra = {}) {
  Given g = {{"voices", std::vector<std::string>{"en", "en-us"}},
             {"speeds", std::vector<int64_t>{175}},
             {"pitches", std::vector<int64_t>{50}},
             {"debug", true}};
  for (auto& [k, v] : extra) g[k] = v;
  return g;
}

/// Every file under dir with its size and modification time ("size:ticks").
std::map<std::string, std::string> listing(const fs::path& dir) {
  std::map<std::string, std::string> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out[e.path().string()] =
          std::to_string(e.file_size()) + ":" + std::to_string(e.last_write_time().time_since_epoch().count());
  return out;
}

/// scikit-learn's digits (pixels [N, 64] as float 0..16, labels [N]), decompressed by gzip.
std::pair<at::Tensor, std::vector<int64_t>> sklearn_digits() {
  FILE* p = ::popen((std::string("gzip -dc ") + kDigits).c_str(), "r");
  REQUIRE(p != nullptr);
  std::vector<float> px;
  std::vector<int64_t> labels;
  double v;
  std::vector<double> row;
  while (std::fscanf(p, "%lf", &v) == 1) {
    row.push_back(v);
    std::fgetc(p);  // the comma or newline
    if (row.size() == 65) {
      for (int i = 0; i < 64; ++i) px.push_back(static_cast<float>(row[static_cast<size_t>(i)]));
      labels.push_back(static_cast<int64_t>(row[64]));
      row.clear();
    }
  }
  ::pclose(p);
  return {at::tensor(px).reshape({-1, 64}), labels};
}

}  // namespace

TEST_CASE("data.av_digits: construction and info() read and write nothing") {
  TempDir dir;
  auto ds = av_digits("train", dir.path, {{"digits_path", std::string("/nonexistent/digits.csv.gz")},
                                          {"espeak", std::string("/nonexistent/espeak-ng")}});
  const auto info = ds->info();
  REQUIRE(info.modalities.size() == 2);
  CHECK(info.modalities[0].name == "image");
  CHECK(info.modalities[0].shape == std::vector<int64_t>{1, 8, 8});
  CHECK(info.modalities[1].name == "audio");
  CHECK(info.modalities[1].shape == std::vector<int64_t>{40, 48});
  CHECK(info.num_classes == 10);
  CHECK(info.num_groups == 5);
  CHECK(info.splits == std::vector<std::string>{"train", "val", "test"});
  CHECK_THROWS_AS(ds->size(), std::logic_error);
  CHECK_THROWS_AS(ds->get(0), std::logic_error);
  CHECK_FALSE(fs::exists(dir.path));
}

TEST_CASE("data.av_digits: splits, held-out digits, digit agreement, log-mel, SNR, determinism and cache reuse") {
  TempDir dir;
  const double snr = 20.0;
  const Given g = small({{"ood_digits", std::vector<int64_t>{9}}, {"snr_db", snr}, {"occlusion", 0.25}});
  const auto [pixels, digit_of_row] = sklearn_digits();
  REQUIRE(pixels.size(0) == 1797);
  const fs::path folder_root = dir.path / "av_digits";

  std::map<std::string, int64_t> sizes;
  for (const std::string split : {"train", "val", "test"}) {
    auto ds = av_digits(split, dir.path, g);
    ds->prepare();
    const auto info = ds->info();
    CHECK(info.num_classes == 9);
    CHECK(info.num_groups == 2);
    const int64_t n = ds->size();
    sizes[split] = n;
    int64_t ood = 0;
    std::vector<double> snrs;
    for (int64_t i = 0; i < n; ++i) {
      const auto s = ds->get(i);
      const at::Tensor u = s.inputs.at("utterance");
      const int64_t digit = static_cast<int64_t>(u[0].item<float>()), voice = static_cast<int64_t>(u[1].item<float>());
      // Held-out digit 9: only in test, flagged OOD with label and group -1; other digits keep their index.
      if (digit == 9) {
        REQUIRE(split == "test");
        CHECK(s.ood);
        CHECK(s.label == -1);
        CHECK(s.group == -1);
        ++ood;
      } else {
        CHECK_FALSE(s.ood);
        CHECK(s.label == digit);
        CHECK(s.group == voice);
      }
      // The image is one of scikit-learn's images of the same digit (occluded pixels set to zero).
      const at::Tensor img = s.inputs.at("image").reshape({64}) * 16.0f;
      CHECK(s.inputs.at("image").sizes() == at::IntArrayRef({1, 8, 8}));
      const at::Tensor kept = img != 0;
      const at::Tensor match = ((pixels - img).abs().masked_fill(~kept, 0).sum(1) < 1e-3) &
                               (pixels.masked_fill(kept, 0).sum(1) <= 16 * 4 + 1e-3);
      bool same_digit = false;
      const at::Tensor rows = match.nonzero().reshape({-1}).contiguous();
      for (int64_t k = 0; k < rows.size(0); ++k) same_digit |= digit_of_row[size_t(rows[k].item<int64_t>())] == digit;
      // (allow for the occluded square: the pixels it hides are at most 2x2 = 4 pixels of value <= 16)
      CHECK_MESSAGE(same_digit, "sample " << i << " of " << split << ": image is not a digit " << digit);
      // The audio is that utterance's cached WAV, trimmed and windowed.
      if (i < 40) {
        const at::Tensor clean = s.inputs.at("clean_waveform");
        fs::path wav;
        for (const auto& e : fs::recursive_directory_iterator(folder_root))
          if (e.path().filename() == "d" + std::to_string(digit) + "_v" + std::to_string(voice) + "_s175_p50.wav")
            wav = e.path();
        REQUIRE_FALSE(wav.empty());
        const auto trimmed = av::trim_silence(av::parse_wav(av::read_bytes(wav), wav.string()).samples);
        const int64_t m = std::min<int64_t>(clean.size(0), static_cast<int64_t>(trimmed.size()));
        CHECK(at::equal(clean.narrow(0, 0, m), at::tensor(std::vector<float>(trimmed.begin(), trimmed.begin() + m))));
        // Measured SNR of the noisy waveform over the speech samples.
        snrs.push_back(av::measured_snr_db(clean, s.inputs.at("waveform"), m));
        CHECK(std::fabs(snrs.back() - snr) < 1.0);
      }
      const at::Tensor a = s.inputs.at("audio");
      CHECK(a.sizes() == at::IntArrayRef({40, 48}));
      CHECK(at::isfinite(a).all().item<bool>());
    }
    if (split == "test") CHECK(ood > 0);
    double mean = 0;
    for (double x : snrs) mean += x / static_cast<double>(snrs.size());
    MESSAGE(split << ": " << n << " samples, mean measured SNR " << mean << " dB (set " << snr << ")");
  }
  // Digit 9 (about 10% of the images) is dropped from train and val.
  CHECK(sizes["train"] < 1258);
  CHECK(sizes["train"] > 1050);
  CHECK(sizes["train"] + sizes["val"] + sizes["test"] < 1797);

  // At most 2 voices x 9-10 digits synthesised; a second instance reuses them and gives the same data.
  const auto before = listing(dir.path);
  CHECK(before.size() <= 20);
  auto a = av_digits("train", dir.path, g), b = av_digits("train", dir.path, g);
  a->prepare();
  b->prepare();
  CHECK(listing(dir.path) == before);
  CHECK(a->fingerprint() == b->fingerprint());
  CHECK(a->size() == b->size());
  for (int64_t i : {int64_t{0}, int64_t{17}, a->size() - 1}) {
    CHECK(at::equal(a->get(i).inputs.at("audio"), b->get(i).inputs.at("audio")));
    CHECK(at::equal(a->get(i).inputs.at("image"), b->get(i).inputs.at("image")));
    CHECK(a->get(i).label == b->get(i).label);
  }
  Given other = g;
  other["seed"] = int64_t{7};
  auto c = av_digits("train", dir.path, other);
  c->prepare();
  CHECK(c->fingerprint() != a->fingerprint());
}

TEST_CASE("data.av_digits: held-out voices appear only in OOD test samples") {
  TempDir dir;
  const Given g = small({{"voices", std::vector<std::string>{"en", "en-us", "en+f3"}},
                         {"ood_voices", std::vector<std::string>{"en+f3"}}});
  for (const std::string split : {"train", "test"}) {
    auto ds = av_digits(split, dir.path, g);
    ds->prepare();
    CHECK(ds->info().num_groups == 2);
    int64_t voice_ood = 0;
    for (int64_t i = 0; i < ds->size(); ++i) {
      const auto s = ds->get(i);
      const int64_t voice = static_cast<int64_t>(s.inputs.at("utterance")[1].item<float>());
      if (voice == 2) {
        CHECK(s.ood);
        CHECK(s.label == -1);
        CHECK(s.group == -1);
        ++voice_ood;
      } else {
        CHECK_FALSE(s.ood);
        CHECK(s.group == voice);
      }
    }
    if (split == "train") CHECK(voice_ood == 0);
    // ood_voice_fraction 0.5 of the ID test images come again with the held-out voice.
    if (split == "test") CHECK(voice_ood == (ds->size() - voice_ood + 1) / 2);
  }
}

TEST_CASE("data.av_digits: missing inputs give errors that say what to install") {
  TempDir dir;
  auto ds = av_digits("train", dir.path, small({{"digits_path", std::string("/nonexistent/digits.csv.gz")}}));
  CHECK_THROWS_WITH_AS(ds->prepare(), doctest::Contains("python3-sklearn"), std::runtime_error);
  auto no_espeak = av_digits("train", dir.path, small({{"espeak", std::string("/nonexistent/espeak-ng")}}));
  CHECK_THROWS_WITH_AS(no_espeak->prepare(), doctest::Contains("install the Debian package espeak-ng"),
                       std::runtime_error);
  auto bad_voice = av_digits("val", dir.path, small({{"voices", std::vector<std::string>{"zz-nonexistent"}}}));
  CHECK_THROWS_WITH_AS(bad_voice->prepare(), doctest::Contains("zz-nonexistent"), std::runtime_error);
  CHECK_THROWS_AS(av_digits("train", dir.path, small({{"ood_voices", std::vector<std::string>{"en-gb"}}})),
                  mmdebias::core::ComponentError);
}

TEST_CASE("data.av_digits: WAV chunks in any order, and the mel filterbank") {
  // A RIFF file with a LIST chunk (odd size, padded) before "fmt " and "data".
  auto le = [](std::string& b, uint32_t v, int n) { for (int i = 0; i < n; ++i) b.push_back(char((v >> (8 * i)) & 0xff)); };
  std::string w = "RIFF";
  le(w, 0, 4);
  w += "WAVELIST";
  le(w, 3, 4);
  w += "abc";
  w.push_back('\0');
  w += "fmt ";
  le(w, 16, 4);
  le(w, 1, 2); le(w, 1, 2); le(w, 22050, 4); le(w, 44100, 4); le(w, 2, 2); le(w, 16, 2);
  w += "data";
  le(w, 6, 4);
  le(w, 0, 2); le(w, 16384, 2); le(w, uint32_t(uint16_t(-32768)), 2);
  const auto wave = av::parse_wav(w, "test.wav");
  CHECK(wave.sample_rate == 22050);
  CHECK(wave.samples == std::vector<float>{0.0f, 0.5f, -1.0f});
  CHECK_THROWS(av::parse_wav("RIFF....WAVEdata", "bad.wav"));

  const at::Tensor fb = av::mel_filterbank(40, 512, 22050.0);
  CHECK(fb.sizes() == at::IntArrayRef({40, 257}));
  CHECK((fb.sum(1) > 0).all().item<bool>());
  CHECK(fb.max().item<float>() <= 1.0f);
  // Centred STFT: (frames - 1) * hop samples give exactly `frames` frames.
  const at::Tensor lm = av::log_mel(at::randn({3, 31 * 256}), fb, 512, 256);
  CHECK(lm.sizes() == at::IntArrayRef({3, 40, 32}));
}
