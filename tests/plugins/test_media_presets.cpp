// media.clips's other presets and columns on miniature trees (tests/python/media_presets_tree.py): Kinetics-Sounds as
// BalanceBenchmark's KSDataset and AVE as OGM-GE's dataset.py read them (which clips they keep, which frames they open,
// their labels), text through a vocabulary (BERT's WordPiece) or as pre-tokenised ids, and .npy columns.
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include <ATen/ATen.h>

#include "std_helpers.hpp"

#include <doctest/doctest.h>

namespace fs = std::filesystem;
using namespace stdtest;

namespace {

using Given = std::map<std::string, sdk::OptionValue>;

struct Trees {
  fs::path root;
  Trees() {
    root = fs::temp_directory_path() / ("mmdebias-presets-" + std::to_string(::getpid()));
    fs::remove_all(root);
    const std::string cmd = std::string(MMDEBIAS_TORCHVISION_PYTHON) + " -I " + MMDEBIAS_SOURCE_DIR +
                            "/tests/python/media_presets_tree.py " + root.string();
    REQUIRE_MESSAGE(std::system(cmd.c_str()) == 0, "media_presets_tree.py failed (numpy, python3-pil)");
  }
  ~Trees() { std::error_code ec; fs::remove_all(root, ec); }
};

std::shared_ptr<sdk::Dataset> clips(const std::string& split, Given given) {
  sdk::BuildArgs a;
  a.name = "data";
  a.split = split;
  a.seed = 3;
  a.options = options("media.clips", std::move(given));
  auto d = registry().make_dataset("media.clips", a);
  d->prepare();
  return d;
}

// Which frame each of a clip's [T, 3, s, s] frames is: the tree's frame t is flat with red 20 * t (ImageNet-normalised).
std::vector<int64_t> frame_numbers(const at::Tensor& visual) {
  std::vector<int64_t> out;
  for (int64_t k = 0; k < visual.size(0); ++k) {
    const double red = visual[k][0].mean().item<double>() * 0.229 + 0.485;
    out.push_back(std::lround(red * 255.0 / 20.0));
  }
  return out;
}

at::Tensor npy_values(const fs::path& file, at::IntArrayRef shape) {  // the tree's float32 spectrograms
  std::ifstream in(file, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  at::Tensor t = at::empty(shape, at::kFloat);
  const size_t n = static_cast<size_t>(t.numel()) * 4;
  std::memcpy(t.data_ptr(), bytes.data() + bytes.size() - n, n);
  return t;
}

}  // namespace

TEST_CASE("media.clips kinetics_sounds preset: the clips, labels and frames BalanceBenchmark's KSDataset reads") {
  Trees trees;
  const Given g = {{"preset", std::string("kinetics_sounds")}, {"root", (trees.root / "ks").string()}, {"image_size", int64_t{16}}};
  auto train = clips("train", g);
  const sdk::DatasetInfo info = train->info();
  CHECK(info.splits == std::vector<std::string>{"train", "test"});
  REQUIRE(info.modalities.size() == 2);
  CHECK(info.modalities[0].name == "audio");
  CHECK(info.modalities[0].shape == std::vector<int64_t>{16, 20});  // the spectrogram as saved
  CHECK(info.modalities[1].shape == std::vector<int64_t>{3, 3, 16, 16});
  CHECK(info.num_classes == 3);
  // k2 has no spectrogram and k3 only 3 frames: left out, as the release does.
  REQUIRE(train->size() == 3);
  CHECK(train->get(0).label == 0);
  CHECK(train->get(1).label == 2);
  CHECK(train->get(2).label == 1);
  const fs::path k0 = trees.root / "ks" / "train_spec" / "k0.npy";
  CHECK(at::equal(train->get(0).inputs.at("audio"), npy_values(k0, {16, 20})));
  // Training: a random frame per third, KSDataset's randint(i*seg+1, i*seg+seg) capped at 9; 4 frames (<= 6): frame 1.
  for (int epoch = 0; epoch < 4; ++epoch) {
    dynamic_cast<sdk::EpochAware&>(*train).set_epoch(epoch);
    const auto t = frame_numbers(train->get(2).inputs.at("visual"));  // k4: 12 frames, seg 4
    CHECK(t[0] >= 1);
    CHECK(t[0] <= 4);
    CHECK(t[1] >= 5);
    CHECK(t[1] <= 8);
    CHECK(t[2] == 9);
    CHECK(frame_numbers(train->get(1).inputs.at("visual")) == std::vector<int64_t>{1, 1, 1});
  }
  // Evaluation: i*seg + max(seg/2, 1) for more than 6 frames, else frame 1; the OGM-GE copy's commas read alike.
  auto test = clips("test", g);
  REQUIRE(test->size() == 2);
  CHECK(frame_numbers(test->get(0).inputs.at("visual")) == std::vector<int64_t>{1, 4, 7});
  CHECK(frame_numbers(test->get(1).inputs.at("visual")) == std::vector<int64_t>{1, 1, 1});
  CHECK(test->get(1).label == 0);
}

TEST_CASE("media.clips ave preset: stat.txt's sorted classes, the release's duplicate rule and frames seg*i+1") {
  Trees trees;
  const Given g = {{"preset", std::string("ave")}, {"root", (trees.root / "ave").string()}, {"image_size", int64_t{16}}};
  auto train = clips("train", g);
  const sdk::DatasetInfo info = train->info();
  CHECK(info.class_names == std::vector<std::string>{"Acoustic guitar", "Bark", "Church bell"});
  // a2 is listed twice (dropped, as the release's loop does); a3 has no spectrogram.
  REQUIRE(train->size() == 2);
  CHECK(train->get(0).label == 1);
  CHECK(train->get(1).label == 2);
  CHECK(frame_numbers(train->get(0).inputs.at("visual")) == std::vector<int64_t>{1, 4, 7});  // 10 frames: seg 3
  // The release's pickled spectrograms (protocol 2 for a0, 5 for the test clip a4) equal numpy's arrays; a1's is a .npy.
  auto from_numpy = [&](const std::string& clip) {
    const fs::path saved = trees.root / (clip + ".npy");
    const std::string cmd = std::string(MMDEBIAS_TORCHVISION_PYTHON) + " -I -c 'import numpy, pickle, sys; numpy.save(sys.argv[2], " +
                            "pickle.load(open(sys.argv[1], \"rb\")).astype(numpy.float32))' " +
                            (trees.root / "ave" / "audio_spec" / (clip + ".pkl")).string() + " " + saved.string();
    REQUIRE(std::system(cmd.c_str()) == 0);
    return npy_values(saved, {16, 20});
  };
  CHECK(at::equal(train->get(0).inputs.at("audio"), from_numpy("a0")));
  CHECK(at::equal(train->get(1).inputs.at("audio"), npy_values(trees.root / "ave" / "audio_spec" / "a1.npy", {16, 20})));
  auto test = clips("test", g);
  REQUIRE(test->size() == 1);
  CHECK(at::equal(test->get(0).inputs.at("audio"), from_numpy("a4")));
  CHECK(test->get(0).label == 0);
  CHECK(frame_numbers(test->get(0).inputs.at("visual")) == std::vector<int64_t>{1, 4, 7});
}

TEST_CASE("media.clips: a pickle of anything but one numpy array is refused, naming the file") {
  Trees trees;
  std::ofstream(trees.root / "index.csv") << "split,spec,label\ntrain,not_an_array.pkl,0\n";
  CHECK_THROWS_WITH_AS(clips("train", {{"root", trees.root.string()}, {"arrays", std::vector<std::string>{"spec"}}}),
                       doctest::Contains("not_an_array.pkl: not a pickled numpy array"), sdk::DataError);
}

TEST_CASE("media.clips: text through a vocabulary file or as ids, and .npy columns") {
  Trees trees;
  const std::string root = (trees.root / "generic").string();
  Given g = {{"root", root}, {"text", std::string("caption")}, {"vocab", std::string("vocab.txt")}, {"text_length", int64_t{8}},
             {"special_tokens", true}, {"arrays", std::vector<std::string>{"feat"}}};
  auto train = clips("train", g);
  const sdk::DatasetInfo info = train->info();
  REQUIRE(info.modalities.size() == 2);
  CHECK(info.modalities[0].name == "caption");
  CHECK(info.modalities[0].kind == sdk::InputKind::Tokens);
  CHECK(info.modalities[0].vocab_size == 10);
  CHECK(info.modalities[1].shape == std::vector<int64_t>{4, 2});
  // [CLS] the cat play ##ing . [SEP]: lower-cased, punctuation apart, "playing" in WordPiece pieces.
  CHECK(at::equal(train->get(0).inputs.at("caption"), at::tensor({2, 4, 5, 6, 7, 8, 3, 0}, at::kLong)));
  CHECK(at::equal(train->get(1).inputs.at("caption"), at::tensor({2, 4, 9, 1, 3, 0, 0, 0}, at::kLong)));  // "!": [UNK]
  CHECK(at::equal(train->get(1).inputs.at("feat"), at::arange(8, at::kFloat).reshape({4, 2}) + 1));

  Given ids = {{"root", root}, {"text", std::string("ids")}, {"text_ids", true}, {"vocab_size", int64_t{10}}, {"text_length", int64_t{5}}};
  auto pre = clips("train", ids);
  CHECK(pre->info().modalities[0].vocab_size == 10);
  CHECK(at::equal(pre->get(0).inputs.at("ids"), at::tensor({2, 4, 5, 3, 0}, at::kLong)));
  ids["vocab_size"] = int64_t{5};  // id 9 is out of range
  CHECK_THROWS_WITH_AS(clips("train", ids)->get(1), doctest::Contains("the token id '9' is not an integer in [0, 5)"), sdk::DataError);

  // A sample whose array has another shape than the column's first file: named, with both shapes.
  const std::string write = std::string(MMDEBIAS_TORCHVISION_PYTHON) + " -I -c 'import numpy, sys; numpy.save(sys.argv[1], numpy.zeros(3))' " +
                            (trees.root / "generic" / "feats" / "s1.npy").string();
  REQUIRE(std::system(write.c_str()) == 0);
  CHECK_THROWS_WITH_AS(clips("train", g)->get(1), doctest::Contains("s1.npy: an array of shape [3] where the column's first file has [4, 2]"),
                       sdk::DataError);
  // Text without a vocabulary is refused saying what to give.
  Given none = {{"root", root}, {"text", std::string("caption")}};
  CHECK_THROWS_WITH_AS(clips("train", none), doctest::Contains("needs a vocabulary file (vocab)"), sdk::DataError);
}
