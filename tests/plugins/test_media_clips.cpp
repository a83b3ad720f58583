// media.clips on a miniature CREMA-D tree laid out as OGM-GE prepares it (examples/cremad-mini/make_tree.py): the
// preset's modalities and shapes, an evaluation sample against OGM-GE's computation written apart in Python
// (tests/python/media_reference.py: wave + torch.stft + PIL + torchvision), resampling (a 16 kHz sine read at
// 22050 Hz keeps its frequency and level), determinism of the training augmentation per (seed, index), a generic
// CSV index with the same files, and the errors for a missing and a corrupt file, named with their index row.
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <ATen/ATen.h>

#include "std_helpers.hpp"

#include <doctest/doctest.h>

namespace fs = std::filesystem;
using namespace stdtest;

namespace {

using Given = std::map<std::string, sdk::OptionValue>;

struct Tree {
  fs::path root;
  explicit Tree(const std::string& rate) {
    root = fs::temp_directory_path() / ("mmdebias-media-" + std::to_string(::getpid()) + "-" + rate);
    fs::remove_all(root);
    const std::string cmd = std::string(MMDEBIAS_TORCHVISION_PYTHON) + " -I " + MMDEBIAS_SOURCE_DIR +
                            "/examples/cremad-mini/make_tree.py " + root.string() + " --train 2 --test 1 --rate " + rate;
    REQUIRE_MESSAGE(std::system(cmd.c_str()) == 0, "make_tree.py failed (espeak-ng, sox, python3-pil)");
  }
  ~Tree() { std::error_code ec; fs::remove_all(root, ec); }
};

std::shared_ptr<sdk::Dataset> clips(const std::string& split, Given given, uint64_t seed = 0) {
  sdk::BuildArgs a;
  a.name = "data";
  a.split = split;
  a.seed = seed;
  a.options = options("media.clips", std::move(given));
  auto d = registry().make_dataset("media.clips", a);
  return d;
}

at::Tensor read_f32(const fs::path& file, at::IntArrayRef shape) {
  at::Tensor t = at::empty(shape, at::kFloat);
  std::ifstream in(file, std::ios::binary);
  in.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(t.numel() * 4));
  REQUIRE_MESSAGE(in.gcount() == t.numel() * 4, file.string() << " holds fewer values than " << t.sizes());
  return t;
}

double relative(const at::Tensor& a, const at::Tensor& b) { return ((a - b).abs().max() / b.abs().max()).item<double>(); }

}  // namespace

TEST_CASE("media.clips cremad preset: modalities, shapes and an evaluation sample equal OGM-GE's computation") {
  Tree tree("22050");
  auto test = clips("test", {{"preset", std::string("cremad")}, {"root", tree.root.string()}, {"image_size", int64_t{32}}});
  const sdk::DatasetInfo info = test->info();
  REQUIRE(info.modalities.size() == 2);
  CHECK(info.modalities[0].name == "audio");
  CHECK(info.modalities[0].shape == std::vector<int64_t>{257, 188});  // OGM-GE's [257, 188] for 3 s at 22050 Hz
  CHECK(info.modalities[1].name == "visual");
  CHECK(info.modalities[1].shape == std::vector<int64_t>{1, 3, 32, 32});
  CHECK(info.num_classes == 6);
  CHECK(info.splits == std::vector<std::string>{"train", "test"});
  test->prepare();
  REQUIRE(test->size() == 6);
  const sdk::Sample s = test->get(1);  // the HAP clip of test.csv
  CHECK(s.label == 1);

  const fs::path out = tree.root / "ref";
  const std::string cmd = std::string(MMDEBIAS_TORCHVISION_PYTHON) + " -I " + MMDEBIAS_SOURCE_DIR +
                          "/tests/python/media_reference.py " + tree.root.string() + " 1003_S01_HAP_XX 32 " + out.string();
  REQUIRE_MESSAGE(std::system(cmd.c_str()) == 0, "media_reference.py failed");
  // The log magnifies an FFT's rounding in near-silent bins (espeak's pauses are exact zeros; MKL's and pocketfft's
  // FFTs round differently there): compare the magnitudes, and the logs where the magnitude is not negligible.
  const at::Tensor ours = s.inputs.at("audio"), theirs = read_f32(out.string() + ".audio.f32", {257, 188});
  const double magnitude = relative(at::exp(ours), at::exp(theirs));
  const at::Tensor audible = at::exp(theirs) > 1e-2 * at::exp(theirs).max();  // float32 FFT error ~1e-7 of the peak
  const double log_audible = (ours - theirs).abs().masked_select(audible).max().item<double>();
  const double frames = relative(s.inputs.at("visual"), read_f32(out.string() + ".frames.f32", {1, 3, 32, 32}));
  MESSAGE("audio: largest relative difference of |STFT| " << magnitude << ", of its log where audible " << log_audible
          << "; frames " << frames);
  CHECK(magnitude < 1e-5);
  CHECK(log_audible < 1e-4);
  CHECK(frames < 1e-4);

  // log_mel: 40 mel filters as librosa's defaults (Slaney scale and area), written apart in the reference.
  auto mel = clips("test", {{"preset", std::string("cremad")}, {"root", tree.root.string()}, {"image_size", int64_t{32}},
                            {"audio_features", std::string("log_mel")}, {"mels", int64_t{40}}});
  mel->prepare();
  const at::Tensor ours_mel = mel->get(1).inputs.at("audio"), theirs_mel = read_f32(out.string() + ".mel.f32", {40, 188});
  const double mel_power = relative(at::exp(ours_mel), at::exp(theirs_mel));
  MESSAGE("log-mel: largest relative difference of the mel power " << mel_power);
  CHECK(mel_power < 1e-5);
}

TEST_CASE("media.clips: 16 kHz files are resampled to 22050 Hz, and training draws depend on (seed, epoch, index) only") {
  Tree tree("16000");
  Given g = {{"preset", std::string("cremad")}, {"root", tree.root.string()}, {"image_size", int64_t{32}},
             {"audio_features", std::string("waveform")}};
  auto train = clips("train", g, 7);
  train->prepare();
  const at::Tensor a = train->get(3).inputs.at("visual"), b = train->get(3).inputs.at("visual");
  CHECK(at::equal(a, b));  // the same sample twice: the same crop and flip
  auto again = clips("train", g, 7);
  again->prepare();
  CHECK(at::equal(again->get(3).inputs.at("visual"), a));  // another instance (another rank, a resume)
  auto* epochs = dynamic_cast<sdk::EpochAware*>(train.get());
  REQUIRE(epochs != nullptr);
  epochs->set_epoch(1);
  CHECK_FALSE(at::equal(train->get(3).inputs.at("visual"), a));  // the next epoch: a fresh crop, as torchvision's
  epochs->set_epoch(0);
  CHECK(at::equal(train->get(3).inputs.at("visual"), a));  // epoch 0 again (a resume in it): the same draws
  auto other = clips("train", g, 8);
  other->prepare();
  CHECK_FALSE(at::equal(other->get(3).inputs.at("visual"), a));  // another seed: another draw
  CHECK(train->get(0).inputs.at("audio").size(0) == 66150);

  // A 440 Hz sine written at 16 kHz and read at 22050 Hz: the same frequency and level (libsoxr).
  const fs::path wav = tree.root / "AudioWAV" / "1001_S00_NEU_XX.wav";
  REQUIRE(std::system(("sox -q -n -r 16000 -c 1 -b 16 " + wav.string() + " synth 3 sine 440 vol 0.5").c_str()) == 0);
  const at::Tensor x = train->get(0).inputs.at("audio");
  const at::Tensor mid = x.narrow(0, 11025, 44100).to(at::kDouble);  // 2 s away from the ends
  const double amplitude = mid.abs().max().item<double>();
  const at::Tensor spectrum = at::fft_rfft(mid).abs();
  const int64_t peak = spectrum.argmax().item<int64_t>();
  CHECK(std::abs(peak * 22050.0 / 44100 - 440.0) < 1.0);
  CHECK(amplitude == doctest::Approx(0.5).epsilon(0.01));
}

TEST_CASE("media.clips: a generic CSV index, and a missing file and a corrupt one named with their index row") {
  Tree tree("16000");
  {
    std::ofstream index(tree.root / "index.csv");
    index << "split,clip_audio,frames,label\n"
          << "train,AudioWAV/1001_S00_NEU_XX.wav,Image-01-FPS/1001_S00_NEU_XX,0\n"
          << "train,AudioWAV/1001_S01_HAP_XX.wav,Image-01-FPS/1001_S01_HAP_XX,1\n"
          << "test,AudioWAV/1003_S00_NEU_XX.wav,Image-01-FPS/1003_S00_NEU_XX,0\n"
          << "test,AudioWAV/nowhere.wav,Image-01-FPS/1003_S01_HAP_XX,1\n";
  }
  Given g = {{"root", tree.root.string()}, {"audio", std::string("clip_audio")}, {"frames", std::string("frames")},
             {"image_size", int64_t{32}}, {"audio_features", std::string("log_mel")}, {"mels", int64_t{40}}};
  auto train = clips("train", g);
  const sdk::DatasetInfo info = train->info();
  CHECK(info.splits == std::vector<std::string>{"test", "train"});
  CHECK(info.num_classes == 2);
  CHECK(info.modalities[0].name == "clip_audio");
  CHECK(info.modalities[0].shape == std::vector<int64_t>{40, 188});
  CHECK(info.modalities[1].shape == std::vector<int64_t>{3, 3, 32, 32});
  train->prepare();
  CHECK(train->size() == 2);
  CHECK(train->get(1).inputs.at("clip_audio").sizes() == at::IntArrayRef{40, 188});

  auto test = clips("test", g);
  CHECK_THROWS_WITH_AS(test->prepare(), doctest::Contains("index.csv:5: clip_audio: no file"), sdk::DataError);

  // A JPEG cut short: the sample that reads it names its row and the file.
  const fs::path frame = tree.root / "Image-01-FPS" / "1001_S01_HAP_XX" / "00030.jpg";
  fs::resize_file(frame, 40);
  CHECK_THROWS_WITH_AS(train->get(1), doctest::Contains("index.csv:3"), sdk::DataError);
  CHECK_THROWS_WITH_AS(train->get(1), doctest::Contains("00030.jpg"), sdk::DataError);
}
