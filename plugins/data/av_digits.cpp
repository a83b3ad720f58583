// data.av_digits: scikit-learn's real 8x8 handwritten digits (Debian's python3-sklearn) paired with spoken digits
// synthesised by espeak-ng across voices, speeds and pitches.
//
// Image "image": Dense [1, 8, 8] in [0, 1] (pixel / 16). occlusion = fraction of the side covered by a zero square
// (side round(occlusion * 8)) at a position drawn per sample.
// Audio "audio": Dense [40, frames]: log(mel power + 1e-6) of the noisy waveform (n_fft 512, hop 256, Hann, 40 HTK
// mels over 0 .. 11025 Hz), then (normalize = true) standardised per sample (zero mean, unit std over the map).
// [40, frames] (not [1, 40, frames]) so that std.mlp flattens it and std.conv2d reads it as a one-channel image.
// The waveform: the utterance with its leading/trailing silence trimmed (2% of peak), left-aligned in a window of
// L = (frames - 1) * 256 samples (cropped, or zero-padded), plus white Gaussian noise over the whole window whose
// variance is P / 10^(snr_db / 10), P = mean square of the utterance's samples inside the window. So the SNR,
// measured over the speech samples, is snr_db; centred STFT frames: 1 + L / 256 = frames. Default frames 48
// (0.55 s): espeak-ng's trimmed digit words last 0.19 - 0.54 s at speeds 210 - 140, so nothing is cropped.
//
// Splits: the 1797 images are shuffled once by the data seed (purpose "split", the same for every split) and cut
// into train (round(train_fraction * N)), val (round(val_fraction * N)) and test (the rest).
// Held-out digits (ood_digits) are dropped from train and val; in test they are OOD: ood = true, label = group = -1.
// In-distribution digits are re-indexed 0 .. C_id - 1 in increasing order (class_names give the digits).
// Pairing: sample i is paired with an utterance of the SAME digit: voice, speed and pitch drawn uniformly from
// FNV-1a(seed, split, i). ID samples and held-out-digit samples use only the in-distribution voices.
// Held-out voices (ood_voices): never used by train/val or by any ID sample. The test split gets, APPENDED after
// its images, round(ood_voice_fraction * number of ID-digit test images) extra samples: the first ID-digit test
// images (shuffled order) again, each paired with a held-out voice (drawn like the others) of its digit, flagged
// ood = true with label = group = -1 (a near-OOD shift of the audio alone).
// Groups: index of the utterance's voice among the in-distribution voices (num_groups = their number).
//
// Cache: <cache_dir>/av_digits/<16 hex digits of FNV-1a(voices, speeds, pitches)>/d<digit>_v<voice index>_s<speed>
// _p<pitch>.wav. prepare() synthesises only the missing utterances the split uses (written under a temporary name
// then renamed, so processes can share the cache), then reads them and computes the features. Nothing is read or
// written before prepare(). Deterministic: same options and seed -> same tensors and fingerprint.
//
// debug = true adds modalities "waveform" (noisy) and "clean_waveform" [L] and "utterance" [4] = (digit, voice
// index, speed, pitch), for inspection and tests; do not train on them.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <variant>
#include <vector>

#include <ATen/ATen.h>

#include "av_digits_audio.hpp"
#include "av_digits_config.hpp"
#include "register.hpp"
#include "mmdebias/sdk/tensor_dataset.hpp"

namespace mmdebias::data_plugin {
namespace {

using namespace av_digits;
namespace av = av_digits;

struct Utterance {
  int64_t digit, voice, speed, pitch;
  bool operator<(const Utterance& o) const {
    return std::tie(digit, voice, speed, pitch) < std::tie(o.digit, o.voice, o.speed, o.pitch);
  }
};

class AvDigits : public sdk::TensorDataset {
 public:
  explicit AvDigits(Config c) : TensorDataset(kName, c.split), c_(std::move(c)) {}

  sdk::DatasetInfo info() const override {
    sdk::DatasetInfo info;
    auto dense = [](std::string name, std::vector<int64_t> shape) {
      sdk::ModalitySpec m;
      m.name = std::move(name);
      m.kind = sdk::InputKind::Dense;
      m.shape = std::move(shape);
      return m;
    };
    info.modalities = {dense("image", {1, 8, 8}), dense("audio", {kMels, c_.frames})};
    if (c_.debug) {
      info.modalities.push_back(dense("waveform", {c_.window()}));
      info.modalities.push_back(dense("clean_waveform", {c_.window()}));
      info.modalities.push_back(dense("utterance", {4}));
    }
    info.num_classes = static_cast<int64_t>(c_.id_digits.size());
    for (int64_t d : c_.id_digits) info.class_names.push_back(std::to_string(d));
    info.num_groups = static_cast<int64_t>(c_.id_voices.size());
    info.splits = kSplits;
    return info;
  }

 private:

  fs::path folder() const {
    Fnv f;
    f.text("av_digits synthesis v1");
    for (const auto& v : c_.voices) f.text(v);
    f.u64(0xffffffffffffffffull);
    for (int64_t s : c_.speeds) f.u64(static_cast<uint64_t>(s));
    f.u64(0xffffffffffffffffull);
    for (int64_t p : c_.pitches) f.u64(static_cast<uint64_t>(p));
    return c_.cache_root / "av_digits" / f.hex();
  }

  fs::path file_of(const Utterance& u) const {
    return folder() / ("d" + std::to_string(u.digit) + "_v" + std::to_string(u.voice) + "_s" + std::to_string(u.speed) +
                       "_p" + std::to_string(u.pitch) + ".wav");
  }

  /// Synthesises the missing files among `need`, on a few threads (each call is a short espeak-ng process).
  void synthesize_missing(const std::set<Utterance>& need) const {
    std::vector<Utterance> todo;
    for (const auto& u : need) if (!fs::exists(file_of(u))) todo.push_back(u);
    if (todo.empty()) return;
    fs::create_directories(folder());
    std::atomic<size_t> next{0};
    std::mutex err_mutex;
    std::string error;
    auto work = [&] {
      for (size_t i; (i = next++) < todo.size();) {
        const auto& u = todo[i];
        try {
          av::synthesize(c_.espeak, c_.voices[static_cast<size_t>(u.voice)], u.speed, u.pitch,
                         av::digit_words()[static_cast<size_t>(u.digit)], file_of(u));
        } catch (const std::exception& e) {
          std::lock_guard<std::mutex> l(err_mutex);
          if (error.empty()) error = e.what();
          next = todo.size();
        }
      }
    };
    const size_t n = std::min<size_t>(todo.size(), std::max(1u, std::min(8u, std::thread::hardware_concurrency())));
    std::vector<std::thread> pool;
    for (size_t t = 0; t < n; ++t) pool.emplace_back(work);
    for (auto& t : pool) t.join();
    if (!error.empty())
      throw std::runtime_error(std::string(kName) + ": synthesising spoken digits failed: " + error +
                               " (check the voice with `espeak-ng --voices`)");
  }

  void build() {
    std::vector<uint8_t> pixels;
    std::vector<int64_t> digits;
    load_digits(c_.digits_path, pixels, digits);
    const int64_t n_all = static_cast<int64_t>(digits.size());

    // The split's images, in the seeded shuffled order.
    const at::Tensor perm = at::randperm(n_all, generator_for(stable_hash(c_.data_seed, "split", "", 0)), at::kLong);
    const auto* pp = perm.data_ptr<int64_t>();
    const int64_t n_train = std::llround(c_.train_fraction * n_all);
    const int64_t n_val = std::min(n_all - n_train, static_cast<int64_t>(std::llround(c_.val_fraction * n_all)));
    const int64_t lo = c_.split == "train" ? 0 : c_.split == "val" ? n_train : n_train + n_val;
    const int64_t hi = c_.split == "train" ? n_train : c_.split == "val" ? n_train + n_val : n_all;
    std::vector<int64_t> class_of(10, -1);
    for (size_t k = 0; k < c_.id_digits.size(); ++k) class_of[static_cast<size_t>(c_.id_digits[k])] = static_cast<int64_t>(k);

    struct Entry { int64_t image; bool ood; bool voice_ood; };
    std::vector<Entry> entries;
    std::vector<int64_t> id_images;
    for (int64_t k = lo; k < hi; ++k) {
      const int64_t img = pp[k];
      const bool held = class_of[static_cast<size_t>(digits[static_cast<size_t>(img)])] < 0;
      if (held && c_.split != "test") continue;
      entries.push_back({img, held, false});
      if (!held) id_images.push_back(img);
    }
    if (c_.split == "test" && !c_.ood_voices.empty()) {
      const auto extra = std::min<int64_t>(static_cast<int64_t>(id_images.size()),
                                           std::llround(c_.ood_voice_fraction * static_cast<double>(id_images.size())));
      for (int64_t k = 0; k < extra; ++k) entries.push_back({id_images[static_cast<size_t>(k)], true, true});
    }
    const int64_t n = static_cast<int64_t>(entries.size());

    // Pairing: an utterance of the same digit, from (seed, split, index).
    std::vector<Utterance> utt(static_cast<size_t>(n));
    std::set<Utterance> need;
    for (int64_t i = 0; i < n; ++i) {
      const auto& e = entries[static_cast<size_t>(i)];
      const auto& pool = e.voice_ood ? c_.ood_voices : c_.id_voices;
      uint64_t h = stable_hash(c_.data_seed, "pair", c_.split, i);
      Utterance u;
      u.digit = digits[static_cast<size_t>(e.image)];
      u.voice = pool[h % pool.size()];
      h /= pool.size();
      u.speed = c_.speeds[h % c_.speeds.size()];
      h /= c_.speeds.size();
      u.pitch = c_.pitches[h % c_.pitches.size()];
      utt[static_cast<size_t>(i)] = u;
      need.insert(u);
    }
    synthesize_missing(need);

    // Trimmed utterances, read once each.
    std::map<Utterance, std::vector<float>> wave;
    for (const auto& u : need) {
      const fs::path f = file_of(u);
      av::Wave w = av::parse_wav(av::read_bytes(f), f.string());
      if (w.sample_rate != kRate)
        throw std::runtime_error(std::string(kName) + ": voice '" + c_.voices[static_cast<size_t>(u.voice)] + "' gives " +
                                 std::to_string(w.sample_rate) + " Hz audio; 22050 Hz (espeak-ng's own voices, not "
                                 "mbrola ones) is expected");
      wave[u] = av::trim_silence(w.samples);
      if (wave[u].empty()) throw std::runtime_error(std::string(kName) + ": " + f.string() + " is silent");
    }

    // Waveform windows and noise at snr_db over the speech samples.
    const int64_t L = c_.window();
    at::Tensor clean = at::zeros({n, L}, at::kFloat), noisy = at::empty({n, L}, at::kFloat);
    for (int64_t i = 0; i < n; ++i) {
      const auto& w = wave.at(utt[static_cast<size_t>(i)]);
      const int64_t m = std::min<int64_t>(L, static_cast<int64_t>(w.size()));
      float* row = clean[i].data_ptr<float>();
      double power = 0;
      for (int64_t t = 0; t < m; ++t) { row[t] = w[static_cast<size_t>(t)]; power += double(w[static_cast<size_t>(t)]) * w[static_cast<size_t>(t)]; }
      power /= static_cast<double>(m);
      const double sigma = std::sqrt(power / std::pow(10.0, c_.snr_db / 10.0));
      auto gen = generator_for(stable_hash(c_.data_seed, "noise", c_.split, i));
      noisy[i].copy_(clean[i] + at::randn({L}, gen, at::kFloat) * sigma);
    }
    at::Tensor feats = av::log_mel(noisy, av::mel_filterbank(kMels, kNfft, static_cast<double>(kRate)), kNfft, kHop);
    if (c_.normalize) {
      const at::Tensor mean = feats.mean({1, 2}, true), std = feats.std({1, 2}, true, true);
      feats = (feats - mean) / (std + 1e-5);
    }
    audio_ = feats.contiguous();

    // Images, scaled and occluded.
    at::Tensor img = at::empty({n, 1, 8, 8}, at::kFloat);
    const int64_t side = std::llround(c_.occlusion * 8.0);
    std::vector<int64_t> label(static_cast<size_t>(n)), group(static_cast<size_t>(n));
    std::vector<float> uinfo;
    for (int64_t i = 0; i < n; ++i) {
      const auto& e = entries[static_cast<size_t>(i)];
      float* px = img[i].data_ptr<float>();
      for (int k = 0; k < 64; ++k) px[k] = static_cast<float>(pixels[static_cast<size_t>(e.image * 64 + k)]) / 16.0f;
      if (side > 0) {
        const uint64_t h = stable_hash(c_.data_seed, "occlusion", c_.split, i);
        const int64_t span = 8 - side + 1, r0 = static_cast<int64_t>(h % span), c0 = static_cast<int64_t>((h / span) % span);
        for (int64_t r = r0; r < r0 + side; ++r)
          for (int64_t q = c0; q < c0 + side; ++q) px[r * 8 + q] = 0.0f;
      }
      const auto& u = utt[static_cast<size_t>(i)];
      label[static_cast<size_t>(i)] = e.ood ? -1 : class_of[static_cast<size_t>(u.digit)];
      group[static_cast<size_t>(i)] = e.ood ? -1 : static_cast<int64_t>(
          std::find(c_.id_voices.begin(), c_.id_voices.end(), u.voice) - c_.id_voices.begin());
      for (int64_t v : {u.digit, u.voice, u.speed, u.pitch}) uinfo.push_back(static_cast<float>(v));
    }
    image_ = img;
    label_ = at::tensor(label, at::kLong);
    group_ = at::tensor(group, at::kLong);
    std::vector<int64_t> oo;
    for (const auto& e : entries) oo.push_back(e.ood ? 1 : 0);
    ood_ = at::tensor(oo, at::kLong).to(at::kBool).contiguous();
    if (c_.debug) {
      clean_ = clean;
      noisy_ = noisy;
      utterance_ = at::tensor(uinfo, at::kFloat).reshape({n, 4});
    }
  }

  /// FNV-1a-64 over every option value, the data seed, the split and the served tensors.
  std::string digest() const {
    Fnv f;
    f.text(kName);
    for (const auto& [name, value] : c_.options.values()) {
      if (name == "espeak") continue;  // where the program is does not shape the data
      f.text(name);
      f.u64(value.index());
      std::visit([&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool>) f.u64(v);
        else if constexpr (std::is_same_v<T, int64_t>) f.u64(static_cast<uint64_t>(v));
        else if constexpr (std::is_same_v<T, double>) f.real(v);
        else if constexpr (std::is_same_v<T, std::string>) f.text(v);
        else {
          f.u64(v.size());
          for (const auto& x : v) {
            if constexpr (std::is_same_v<std::decay_t<decltype(x)>, std::string>) f.text(x);
            else if constexpr (std::is_same_v<std::decay_t<decltype(x)>, double>) f.real(x);
            else f.u64(static_cast<uint64_t>(x));
          }
        }
      }, value);
    }
    f.u64(c_.data_seed);
    f.text(c_.split);
    for (const at::Tensor* t : {&image_, &audio_, &label_, &group_, &ood_}) f.bytes(t->data_ptr(), t->nbytes());
    return f.hex();
  }

  std::string load(Columns& columns) override {
    build();
    std::string digest_hex = digest();
    columns.inputs["image"] = std::move(image_);
    columns.inputs["audio"] = std::move(audio_);
    if (c_.debug) {  // diagnostic modalities, for tests
      columns.inputs["waveform"] = std::move(noisy_);
      columns.inputs["clean_waveform"] = std::move(clean_);
      columns.inputs["utterance"] = std::move(utterance_);
    }
    columns.label = std::move(label_);
    columns.group = std::move(group_);
    columns.ood = std::move(ood_);
    return digest_hex;
  }

  Config c_;
  // Filled by build(), digested, then handed to the base's columns.
  at::Tensor image_, audio_, label_, group_, ood_, clean_, noisy_, utterance_;
};

}  // namespace

void register_av_digits(sdk::Registrar& r) {
  sdk::ComponentDecl d;
  d.name = "av_digits";
  d.doc = "Real 8x8 handwritten digits (python3-sklearn) paired with spoken digits synthesised by espeak-ng "
          "(log-mel); knobs: audio SNR, image occlusion; OOD: held-out digits or voices; groups: voices";
  d.schema = sdk::schema_of<Config>();
  d.provides = {sdk::capability::kGroups};
  r.add_dataset(std::move(d), [](const sdk::BuildArgs& a) { return std::make_shared<AvDigits>(read_config(a)); });
}

}  // namespace mmdebias::data_plugin
