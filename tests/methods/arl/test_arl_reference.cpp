// arl.uncertainty + arl.reweight through a std.concat fusion agree with an independent torch reference
// (tests/python/arl_reference.py, written from shared/methods.md) on fixed tensors: the uncertainties, the
// normalised uncertainties, the weights, the bias term, the total loss and the gradients of every encoder
// and head parameter, to 1e-5; for both estimators, batch and ema mode, the warm-up, M = 2 and 3, the clamp.
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "arl_helpers.hpp"

using namespace arltest;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

/// A fixed case: options, parameters and batches drawn from a seeded generator.
struct Case {
  std::string estimator = "entropy", mode = "batch";
  double decay = 0.9, clamp = 0.3, gamma = 4.0, warmup_gamma = 1.0;
  int64_t start = 5, epoch = 5;
  std::vector<int64_t> widths = {4, 5};  ///< D_m; M = widths.size().
  int64_t classes = 3, batch = 8, in_dim = 3, steps = 2;
  double sharpen0 = 1.0;                 ///< Scales the head's block of modality 0 (sharp logits -> the clamp).
  uint32_t seed = 1;
};

std::vector<std::vector<double>> matrix(std::mt19937& g, int64_t rows, int64_t cols, double scale = 1.0) {
  std::normal_distribution<double> n(0.0, 1.0);
  std::vector<std::vector<double>> m(rows, std::vector<double>(cols));
  for (auto& r : m)
    for (auto& v : r) v = scale * n(g);
  return m;
}

at::Tensor tensor_of(const json& j) {
  std::vector<double> flat;
  std::vector<int64_t> shape{static_cast<int64_t>(j.size())};
  if (j[0].is_array()) {
    shape.push_back(static_cast<int64_t>(j[0].size()));
    for (const auto& r : j)
      for (const auto& v : r) flat.push_back(v.get<double>());
  } else {
    for (const auto& v : j) flat.push_back(v.get<double>());
  }
  return at::tensor(flat, at::kDouble).reshape(shape);
}

json make_case(const Case& c) {
  std::mt19937 g(c.seed);
  json j = {{"estimator", c.estimator}, {"mode", c.mode}, {"decay", c.decay}, {"clamp", c.clamp}, {"gamma", c.gamma},
            {"warmup_gamma", c.warmup_gamma}, {"start", c.start}, {"epoch", c.epoch}};
  int64_t total = 0;
  for (int64_t d : c.widths) {
    j["encoders"].push_back({{"weight", matrix(g, d, c.in_dim)}, {"bias", matrix(g, 1, d)[0]}});
    total += d;
  }
  auto head = matrix(g, c.classes, total, 0.7);
  for (auto& row : head)
    for (int64_t k = 0; k < c.widths[0]; ++k) row[k] *= c.sharpen0;
  j["head"] = {{"weight", head}, {"bias", matrix(g, 1, c.classes)[0]}};
  std::uniform_int_distribution<int64_t> label(0, c.classes - 1);
  for (int64_t s = 0; s < c.steps; ++s) {
    json step;
    for (size_t m = 0; m < c.widths.size(); ++m) step["inputs"].push_back(matrix(g, c.batch, c.in_dim));
    for (int64_t i = 0; i < c.batch; ++i) step["label"].push_back(label(g));
    j["steps"].push_back(step);
  }
  return j;
}

/// Runs the Python reference; FAILS (never skips) when the tests' Python (MMDEBIAS_PYTHON) or its torch is missing.
json python_reference(const json& input) {
  const fs::path python = MMDEBIAS_PYTHON;
  const fs::path script = fs::path(MMDEBIAS_SOURCE_DIR) / "tests" / "python" / "arl_reference.py";
  REQUIRE_MESSAGE(fs::exists(script), "missing " << script.string());
  if (!fs::exists(python))
    FAIL(MMDEBIAS_PYTHON " is missing: install python3-torch (apt-get install python3-torch, or scripts/setup --tests)");
  const fs::path in = fs::temp_directory_path() / ("mmdebias-arl-" + std::to_string(::getpid()) + ".json");
  std::ofstream(in) << input.dump();
  const std::string cmd = python.string() + " -I " + script.string() + " " + in.string() + " 2>&1";
  std::string output;
  FILE* pipe = ::popen(cmd.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buf[4096];
  for (size_t got; (got = std::fread(buf, 1, sizeof buf, pipe)) > 0;) output.append(buf, got);
  const int status = ::pclose(pipe);
  fs::remove(in);
  INFO("reference script output: " << output);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 3)
    FAIL("torch is missing for " MMDEBIAS_PYTHON ": install python3-torch (apt-get install python3-torch)");
  REQUIRE_MESSAGE(status == 0, "the torch reference script failed");
  return json::parse(output);
}

void check_close(const at::Tensor& got, const json& ref, const std::string& what) {
  const at::Tensor want = tensor_of(ref).reshape({-1});
  const at::Tensor have = got.detach().to(at::kDouble).reshape({-1});
  REQUIRE(have.numel() == want.numel());
  const double err = (have - want).abs().max().item<double>();
  INFO(what << ": largest difference " << err);
  CHECK(err <= 1e-5 * std::max(1.0, want.abs().max().item<double>()));
}

/// Runs the case through the plugin's components and compares every step with the reference.
void run_case(const Case& c) {
  const json input = make_case(c);
  const json ref = python_reference(input);
  const int m = static_cast<int>(c.widths.size());
  std::vector<std::pair<std::string, sdk::FeatureSpec>> specs;
  for (int i = 0; i < m; ++i) specs.push_back({"m" + std::to_string(i), stdtest::pooled(c.widths[i])});
  auto fusion = stdtest::make_fusion("std.concat", specs, c.classes);
  fusion->to(at::kDouble);
  {
    torch::NoGradGuard no_grad;
    fusion->named_parameters()["head.weight"].copy_(tensor_of(input["head"]["weight"]));
    fusion->named_parameters()["head.bias"].copy_(tensor_of(input["head"]["bias"]));
  }
  Encoders enc;
  for (const auto& e : input["encoders"]) {
    enc.weight.push_back(tensor_of(e["weight"]).requires_grad_(true));
    enc.bias.push_back(tensor_of(e["bias"]).requires_grad_(true));
  }
  auto est = estimator(m, {{"estimator", c.estimator}, {"mode", c.mode}, {"decay", c.decay}, {"clamp", c.clamp}});
  auto arl = intervention(m, {{"gamma", c.gamma}, {"warmup_gamma", c.warmup_gamma}, {"start", c.start}});
  RecordingContext ctx(sdk::Phase::Train, c.epoch);
  bool clamped = false;
  for (size_t s = 0; s < input["steps"].size(); ++s) {
    CAPTURE(s);
    const json& step = input["steps"][s];
    const json& want = ref["steps"][s];
    std::vector<at::Tensor> x;
    for (const auto& xi : step["inputs"]) x.push_back(tensor_of(xi));
    at::Tensor label = at::tensor(step["label"].get<std::vector<int64_t>>(), at::kLong);
    for (auto& p : fusion->parameters()) p.mutable_grad() = at::Tensor();
    for (auto* list : {&enc.weight, &enc.bias})
      for (auto& p : *list) p.mutable_grad() = at::Tensor();
    StepResult r = train_step(enc, *fusion, *est, *arl, x, label, ctx);
    check_close(r.estimates.get("arl.uncertainty"), want["uncertainty"], "uncertainty");
    check_close(r.estimates.get("arl.uncertainty_normalized"), want["normalized"], "normalized uncertainty");
    check_close(r.estimates.get("arl.weights"), want["weights"], "weights");
    check_close(r.bias_term, json::array({want["bias"]}), "bias term");
    check_close(r.total, json::array({want["total"]}), "total loss");
    CHECK(r.bias_weight == (c.epoch >= c.start ? c.gamma : c.warmup_gamma));
    for (int i = 0; i < m; ++i) {
      check_close(enc.weight[i].grad(), want["grads"]["encoder" + std::to_string(i) + ".weight"], "grad W_" + std::to_string(i));
      check_close(enc.bias[i].grad(), want["grads"]["encoder" + std::to_string(i) + ".bias"], "grad b_" + std::to_string(i));
    }
    check_close(fusion->named_parameters()["head.weight"].grad(), want["grads"]["head.weight"], "grad head W");
    check_close(fusion->named_parameters()["head.bias"].grad(), want["grads"]["head.bias"], "grad head b");
    CHECK(want["out_minus_sum"].get<double>() < 1e-12);
    for (const auto& v : want["normalized"]) clamped = clamped || v.get<double>() == c.clamp;
  }
  if (c.sharpen0 > 1) CHECK_MESSAGE(clamped, "the clamp case should reach the clamp");
}

}  // namespace

TEST_CASE("entropy estimator, batch mode, after the warm-up: 2 modalities agree with the reference") {
  Case c;
  run_case(c);
}

TEST_CASE("entropy estimator during the warm-up: unscaled gradients, warmup_gamma, agree with the reference") {
  Case c;
  c.epoch = 1;
  c.warmup_gamma = 0.5;
  c.seed = 2;
  run_case(c);
}

TEST_CASE("a sharp modality reaches the clamp: agree with the reference") {
  Case c;
  c.sharpen0 = 12.0;
  c.seed = 3;
  run_case(c);
}

TEST_CASE("variance estimator, ema mode over 3 steps, 3 modalities: agree with the reference") {
  Case c;
  c.estimator = "variance";
  c.mode = "ema";
  c.decay = 0.8;
  c.clamp = 0.1;
  c.gamma = 3.0;
  c.widths = {4, 2, 3};
  c.classes = 4;
  c.batch = 10;
  c.steps = 3;
  c.seed = 4;
  run_case(c);
}
