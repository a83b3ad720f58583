// std.resnet against torchvision (tests/python/resnet_reference.py, run by Debian's python3 with python3-torchvision
// whatever LibTorch this build uses): torchvision's resnet18/34 loads the encoder's parameters and buffers by name
// with strict=True, and gives the same features in eval mode and the same gradients and batch-norm statistics in
// train mode; frames [T, C, H, W] pool over time as OGM-GE's visual branch does.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/jit/serialization/pickle.h>

#include <doctest/doctest.h>

#include "plugins/std_helpers.hpp"

namespace fs = std::filesystem;
namespace sdk = mmdebias::sdk;
using stdtest::dense;
using stdtest::make_encoder;

namespace {

std::vector<char> read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// Runs the torchvision reference on the encoder's state, the batch x and the output gradient g; FAILS (never skips)
/// when Debian's python3 lacks torch or torchvision.
std::map<std::string, at::Tensor> torchvision_reference(sdk::Encoder& enc, const at::Tensor& x, const at::Tensor& g,
                                                        int64_t depth, const std::string& mode) {
  c10::Dict<std::string, at::Tensor> in;
  for (const auto& p : enc.named_parameters()) in.insert("state." + p.key(), p.value().detach());
  for (const auto& b : enc.named_buffers()) in.insert("state." + b.key(), b.value().detach());
  in.insert("x", x);
  in.insert("g", g);
  const fs::path dir = fs::temp_directory_path() / ("mmdebias-resnet-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::vector<char> bytes = torch::jit::pickle_save(in);
  std::ofstream(dir / "in.pt", std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  const fs::path script = fs::path(MMDEBIAS_SOURCE_DIR) / "tests" / "python" / "resnet_reference.py";
  const std::string cmd = std::string(MMDEBIAS_TORCHVISION_PYTHON) + " -I " + script.string() + " " + (dir / "in.pt").string() +
                          " " + (dir / "out.pt").string() + " " + std::to_string(depth) + " " + mode + " 2>" +
                          (dir / "err.txt").string();
  const int status = std::system(cmd.c_str());
  std::ifstream err_in(dir / "err.txt");
  const std::string errors((std::istreambuf_iterator<char>(err_in)), std::istreambuf_iterator<char>());
  if (WIFEXITED(status) && WEXITSTATUS(status) == 3)
    FAIL(MMDEBIAS_TORCHVISION_PYTHON " lacks torch or torchvision (apt-get install python3-torchvision): " << errors);
  REQUIRE_MESSAGE((WIFEXITED(status) && WEXITSTATUS(status) == 0), "the torchvision reference failed: " << errors);
  std::map<std::string, at::Tensor> out;
  for (const auto& e : torch::jit::pickle_load(read_bytes(dir / "out.pt")).toGenericDict())
    out[e.key().toStringRef()] = e.value().toTensor();
  fs::remove_all(dir);
  return out;
}

double max_abs(const at::Tensor& t) { return t.abs().max().item<double>(); }

/// Eval features, then one train-mode forward and backward of sum(out * g), each against torchvision.
void check_against_torchvision(const std::vector<int64_t>& shape, int64_t depth, const std::string& mode) {
  CAPTURE(depth);
  CAPTURE(mode);
  at::manual_seed(17);
  auto enc = make_encoder("std.resnet", {dense("v", shape)}, "v", {{"depth", depth}});
  enc->to(at::kDouble);
  {  // batch norms away from identity, so a swapped weight and bias, or mean and variance, would show
    torch::NoGradGuard no_grad;
    for (auto& b : enc->named_buffers())
      if (b.key().find("running_var") != std::string::npos) b.value().uniform_(0.5, 2.0);
      else if (b.key().find("running_mean") != std::string::npos) b.value().normal_(0, 0.1);
    for (auto& p : enc->named_parameters())
      if (p.key().find("bn") != std::string::npos || p.key().find("downsample.1") != std::string::npos) p.value().normal_(1, 0.2);
  }
  std::vector<int64_t> batch_shape = {3};
  batch_shape.insert(batch_shape.end(), shape.begin(), shape.end());
  const at::Tensor x = at::randn(batch_shape, at::kDouble);
  const at::Tensor g = at::randn({3, 512}, at::kDouble);
  const auto ref = torchvision_reference(*enc, x, g, depth, mode);  // before our forwards change the statistics

  enc->eval();
  at::Tensor eval_out;
  {
    torch::NoGradGuard no_grad;
    eval_out = enc->encode(x, sdk::AttentionSites{});
  }
  REQUIRE(eval_out.sizes() == ref.at("eval_out").sizes());
  CHECK(max_abs(eval_out - ref.at("eval_out")) <= 1e-5 * std::max(1.0, max_abs(ref.at("eval_out"))));

  enc->train();
  at::Tensor train_out = enc->encode(x, sdk::AttentionSites{});
  CHECK(max_abs(train_out - ref.at("train_out")) <= 1e-5 * std::max(1.0, max_abs(ref.at("train_out"))));
  (train_out * g).sum().backward();
  int64_t compared = 0;
  for (const auto& p : enc->named_parameters()) {
    CAPTURE(p.key());
    const at::Tensor& want = ref.at("grad." + p.key());
    REQUIRE(p.value().grad().defined());
    CHECK(max_abs(p.value().grad() - want) <= 1e-5 * std::max(1.0, max_abs(want)));
    ++compared;
  }
  for (const auto& b : enc->named_buffers()) {
    CAPTURE(b.key());
    CHECK(at::allclose(b.value().to(at::kDouble), ref.at("buf." + b.key()).to(at::kDouble), 1e-7, 1e-9));
    ++compared;
  }
  // Every tensor torchvision has was compared (strict loading already refused extra or missing names).
  CHECK(compared == static_cast<int64_t>(ref.size()) - 2);
}

}  // namespace

TEST_CASE("std.resnet depth 18 equals torchvision's resnet18 on images: features in eval mode, gradients and statistics in train mode") {
  check_against_torchvision({3, 32, 32}, 18, "image");
}

TEST_CASE("std.resnet on a one-channel spectrogram equals torchvision's resnet18 with a one-channel conv1") {
  check_against_torchvision({1, 40, 24}, 18, "image");
}

TEST_CASE("std.resnet on frames [T, C, H, W] runs per frame and pools over time as OGM-GE's visual branch") {
  check_against_torchvision({2, 3, 32, 32}, 18, "frames");
}

TEST_CASE("std.resnet depth 34 equals torchvision's resnet34") {
  check_against_torchvision({3, 32, 32}, 34, "image");
}

TEST_CASE("std.resnet refuses shapes and depths it cannot take, naming the modality") {
  CHECK_THROWS_WITH(make_encoder("std.resnet", {dense("v", {10})}, "v"), doctest::Contains("modality 'v'"));
  CHECK_THROWS_WITH(make_encoder("std.resnet", {dense("v", {1, 2, 3, 4, 5})}, "v"), doctest::Contains("frames [T, C, H, W]"));
  CHECK_THROWS_WITH(make_encoder("std.resnet", {dense("v", {3, 32, 32})}, "v", {{"depth", int64_t{20}}}),
                    doctest::Contains("18 or 34"));
  CHECK_THROWS_WITH(make_encoder("std.resnet", {stdtest::tokens("t", 8, 30)}, "t"), doctest::Contains("token ids"));
}
