// The std parts under run.precision=bf16: the transformer's attention weights are an fp32 softmax (rows sum to 1 to
// fp32 accuracy, where a bf16 softmax is off by ~1e-3), the gated fusion's gates and output are fp32, std.mlp with
// layer_norm runs (LibTorch 1.13's CPU layer_norm refused bf16 input with fp32 weights), and each stays within bf16's
// rounding of the fp32 run. The logit scorers (std.msp, std.energy, std.maxlogit) are pinned with a2d's scorers in
// tests/methods/a2d/test_precision.cpp.
#include <map>
#include <optional>
#include <string>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <doctest/doctest.h>

#include "methods/precision_checks.hpp"
#include "plugins/std_helpers.hpp"

namespace sdk = mmdebias::sdk;
using prectest::relative_error;

namespace {

/// The encoder's output and the attention weights it recorded, under bf16 autocast when bf16.
std::pair<at::Tensor, std::map<std::string, at::Tensor>> encode(sdk::Encoder& enc, const at::Tensor& input, bool bf16) {
  std::optional<prectest::Bf16> autocast;
  if (bf16) autocast.emplace();
  sdk::AttentionSites sites;
  sites.set_recording(true);
  at::Tensor out = enc.encode(input, sites);
  return {out, sites.recorded()};
}

}  // namespace

TEST_CASE("std.tokens under bf16 autocast: fp32 attention weights whose rows sum to 1, and an output within bf16's rounding") {
  at::NoGradGuard no_grad;
  at::manual_seed(1);
  const auto inputs = std::vector<sdk::ModalitySpec>{stdtest::tokens("t", 8, 30)};
  auto enc = stdtest::make_encoder("std.tokens", inputs, "t", {{"dim", int64_t{32}}, {"layers", int64_t{2}}, {"heads", int64_t{4}}});
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(2);
  at::Tensor ids = at::randint(1, 30, {16, 8}, gen, at::TensorOptions().dtype(at::kLong));
  ids.narrow(1, 6, 2).narrow(0, 0, 8).zero_();  // padding in half the rows
  const auto [out32, att32] = encode(*enc, ids, false);
  const auto [out16, att16] = encode(*enc, ids, true);
  REQUIRE(att16.size() == 2);
  for (const auto& [site, w] : att16) {
    CAPTURE(site);
    CHECK((w.scalar_type() == at::kFloat));
    const double row_sum = (w.sum(-1) - 1).abs().max().item<double>();
    const double error = relative_error(w, att32.at(site));
    MESSAGE(site << ": largest |row sum - 1| " << row_sum << ", weights vs fp32 " << error);
    CHECK(row_sum <= 1e-5);  // an fp32 softmax (every row here has an allowed key)
    // The scores come from bf16 q·kᵀ (roundings of at most 2^-9 of each score) and, past the first layer, from bf16
    // activations: the weights follow within 1e-2 (measured 1.5e-3).
    CHECK(error <= 1e-2);
  }
  // Teeth: the same softmax of bf16 scores in bf16 leaves rows off 1 by far more than the fp32 one above.
  at::Tensor scores = at::randn({16, 4, 8, 8}, gen, at::TensorOptions().dtype(at::kFloat)) * 3;
  const double bf16_row_sum = (at::softmax(scores.to(at::kBFloat16), -1).to(at::kFloat).sum(-1) - 1).abs().max().item<double>();
  MESSAGE("bf16 softmax: largest |row sum - 1| " << bf16_row_sum);
  CHECK(bf16_row_sum >= 1e-3);  // measured 2.9e-3, 100x the fp32 bound
  const double error = relative_error(out16, out32);
  MESSAGE("output vs fp32 " << error);
  CHECK(error <= 1e-2);  // two bf16 transformer layers: each matmul rounds to 2^-9 (measured 2.2e-3)
}

TEST_CASE("std.gated under bf16 autocast: fp32 gates and fused features within bf16's rounding of fp32") {
  at::NoGradGuard no_grad;
  at::manual_seed(3);
  const std::vector<std::pair<std::string, sdk::FeatureSpec>> specs = {{"a", stdtest::pooled(6)}, {"b", stdtest::pooled(5)}};
  auto fusion = stdtest::make_fusion("std.gated", specs, 3, {{"dim", int64_t{16}}});
  const sdk::Features f32 = {{"a", prectest::seeded({24, 6}, 4)}, {"b", prectest::seeded({24, 5}, 5)}};
  const at::Tensor fused32 = fusion->fuse(f32, sdk::AttentionSites());
  at::Tensor fused16;
  {
    prectest::Bf16 autocast;
    fused16 = fusion->fuse({{"a", f32.at("a").to(at::kBFloat16)}, {"b", f32.at("b").to(at::kBFloat16)}}, sdk::AttentionSites());
  }
  CHECK((fused16.scalar_type() == at::kFloat));
  const double error = relative_error(fused16, fused32);
  MESSAGE("gated fused features vs fp32 " << error);
  CHECK(error <= 1e-2);  // the projections and the gate layer run in bf16 (roundings of at most 2^-9; measured 2.5e-3)
}

TEST_CASE("std.mlp with layer_norm runs under bf16 autocast (the norm in fp32) within bf16's rounding of fp32") {
  at::NoGradGuard no_grad;
  at::manual_seed(6);
  const auto inputs = std::vector<sdk::ModalitySpec>{stdtest::dense("x", {10})};
  auto enc = stdtest::make_encoder("std.mlp", inputs, "x", {{"hidden", std::vector<int64_t>{32, 32}}, {"layer_norm", true}});
  const at::Tensor x = prectest::seeded({20, 10}, 7);
  const at::Tensor out32 = enc->encode(x, sdk::AttentionSites());
  at::Tensor out16;
  {
    prectest::Bf16 autocast;
    REQUIRE_NOTHROW(out16 = enc->encode(x, sdk::AttentionSites()));
  }
  const double error = relative_error(out16, out32);
  MESSAGE("mlp output vs fp32 " << error);
  CHECK(error <= 2e-2);  // three bf16 linear layers (measured 4.2e-3)
}
