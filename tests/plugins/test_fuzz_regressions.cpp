// Replays the inputs scripts/fuzz found problems with (tests/fuzz-regressions/<target>/) through the normal
// build, the way each harness in fuzz/ feeds them, so every fixed problem stays fixed in the normal suite.
// (The manifest harness has found nothing yet; its regressions would go in tests/fuzz-regressions/manifest/.)
// Each input NAME.EXT has NAME.expect beside it: text the error must contain, or "ok" when the input must pass.
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adam.h>

#include "run/checkpoint.hpp"
#include "mmdebias/core/errors.hpp"
#include "common/sha256.hpp"
#include "std_helpers.hpp"

#include <doctest/doctest.h>

namespace {

namespace fs = std::filesystem;
namespace core = mmdebias::core;

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// The regression inputs of one harness, sorted; each with its expectation.
std::vector<std::pair<fs::path, std::string>> regressions(const std::string& target, const std::string& ext) {
  std::vector<std::pair<fs::path, std::string>> out;
  const fs::path dir = fs::path(MMDEBIAS_SOURCE_DIR) / "tests" / "fuzz-regressions" / target;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ext) continue;
    const fs::path expect_file = fs::path(e.path()).replace_extension(".expect");
    std::string expect = read_bytes(expect_file);
    while (!expect.empty() && (expect.back() == '\n' || expect.back() == ' ')) expect.pop_back();
    INFO("expectation file: " << expect_file.string());
    REQUIRE_FALSE(expect.empty());  // an input without its expectation would pass whatever it gave
    out.emplace_back(e.path(), expect);
  }
  std::sort(out.begin(), out.end());
  return out;
}

/// A fresh temporary directory, removed with the object.
struct TempDir {
  fs::path path = fs::temp_directory_path() / ("mmdebias_fuzzreg_" + std::to_string(::getpid()));
  TempDir() { fs::remove_all(path); fs::create_directories(path); }
  ~TempDir() { std::error_code ec; fs::remove_all(path, ec); }
};

/// What an input gave: "ok", or the error's text.
template <class Run>
std::string outcome(Run run) {
  try {
    run();
    return "ok";
  } catch (const std::exception& e) {
    return e.what();
  }
}

void check_outcome(const fs::path& input, const std::string& expect, const std::string& got) {
  INFO("input: " << input.string() << "\nexpected: " << expect << "\ngot: " << got);
  if (expect == "ok") CHECK(got == "ok");
  else CHECK(got.find(expect) != std::string::npos);
}

}  // namespace

TEST_CASE("fuzz regressions: data.files .npy inputs (as fuzz/npy_fuzz.cpp: x.npy, then label.npy)") {
  const auto inputs = regressions("npy", ".npy");
  REQUIRE_FALSE(inputs.empty());
  for (const auto& [input, expect] : inputs) {
    TempDir root;
    const std::string bytes = read_bytes(input);
    const size_t cut = bytes.find("\x93NUMPY", 1);
    fs::create_directories(root.path / "train");
    write_bytes(root.path / "train" / "x.npy", bytes.substr(0, cut));
    if (cut != std::string::npos) write_bytes(root.path / "train" / "label.npy", bytes.substr(cut));
    const std::string got = outcome([&] {
      mmdebias::sdk::BuildArgs a;
      a.name = "data";
      a.split = "train";
      a.options = stdtest::options("data.files", {{"root", root.path.string()}, {"num_classes", int64_t{2}}});
      auto ds = stdtest::registry().make_dataset("data.files", a);
      ds->info();
      ds->prepare();
      for (int64_t i = 0; i < std::min<int64_t>(ds->size(), 16); ++i) ds->get(i);
    });
    check_outcome(input, expect, got);
  }
}

TEST_CASE("fuzz regressions: checkpoints (as fuzz/checkpoint_fuzz.cpp: a matching sidecar, then meta, state, RNG)") {
  const auto inputs = regressions("checkpoint", ".pt");
  REQUIRE_FALSE(inputs.empty());
  for (const auto& [input, expect] : inputs) {
    TempDir dir;
    const fs::path file = dir.path / "ckpt.pt";
    const std::string bytes = read_bytes(input);
    write_bytes(file, bytes);
    write_bytes(file.string() + ".sha256", core::sha256_bytes(bytes.data(), bytes.size()) + "\n");
    // The harness's model: parameters and buffers, and Adam's per-parameter state.
    torch::nn::Sequential model{torch::nn::Linear(3, 2), torch::nn::BatchNorm1d(2)};
    torch::optim::Adam optimizer{model->parameters(), torch::optim::AdamOptions(0.01)};
    const std::string got = outcome([&] {
      core::read_checkpoint_meta(file);
      core::CheckpointMeta meta = core::load_checkpoint(file, *model, optimizer);
      for (const auto& blob : meta.rng_by_rank) core::unpack_rng(blob);
    });
    check_outcome(input, expect, got);
  }
}

TEST_CASE("fuzz regressions: media.clips audio inputs (as fuzz/media_fuzz.cpp: 'A' then the file, read at 22050 Hz)") {
  const auto inputs = regressions("media", ".bin");
  REQUIRE_FALSE(inputs.empty());
  for (const auto& [input, expect] : inputs) {
    TempDir root;
    const std::string bytes = read_bytes(input);
    REQUIRE(bytes.substr(0, 1) == "A");
    write_bytes(root.path / "a.wav", bytes.substr(1));
    write_bytes(root.path / "index.csv", "split,audio,label\ntrain,a.wav,0\n");
    const std::string got = outcome([&] {
      mmdebias::sdk::BuildArgs a;
      a.name = "data";
      a.split = "train";
      a.options = stdtest::options("media.clips", {{"root", root.path.string()}, {"audio", std::string("audio")}});
      auto ds = stdtest::registry().make_dataset("media.clips", a);
      ds->info();
      ds->prepare();
      ds->get(0);
    });
    check_outcome(input, expect, got);
  }
}
