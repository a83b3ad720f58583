// The counterfactual edits' properties (methods.md): uniform is 1/K over the unmasked positions of a stochastic
// row, reversed is 0 at the row maximum, shuffle_keys is a permutation of each row by one permutation per head; every
// edit keeps masked positions at 0 and rows stochastic over the unmasked positions, whatever the mask. The release's
// shuffle (a permutation of the head's whole Q×K map) has its own file, test_shuffle.cpp.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <doctest/doctest.h>

#include "../../../plugins/causalmm/counterfactual_edits.hpp"
#include "causalmm_support.hpp"

using namespace cmmtest;
namespace cmm = mmdebias::causalmm;

namespace {

constexpr int64_t B = 2, H = 3, Q = 4, K = 6;

at::Tensor edited(cmm::Edit edit, const at::Tensor& w, const at::Tensor& mask, uint64_t seed = 11) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return cmm::edit_attention(w, mask, edit, cmm::draw_for_edit(edit, w.sizes(), gen));
}

}  // namespace

TEST_CASE("every edit keeps masked positions at 0 and each row's mass (1, or 0 when nothing is allowed)") {
  for (const auto& [mask_name, mask] : test_masks(B, Q, K))
    for (const auto& name : cmm::edit_names()) {
      INFO("mask " << mask_name << ", edit " << name);
      at::Tensor w = stochastic_weights({B, H, Q, K}, mask, 5);
      at::Tensor m = cmm::full_mask(w, mask);
      at::Tensor out = edited(cmm::parse_edit(name), w, mask);
      CHECK(out.sizes() == w.sizes());
      CHECK(out.masked_fill(m, 0.0).abs().max().item<double>() == 0.0);
      CHECK(out.min().item<double>() >= 0.0);
      at::Tensor expected_mass = m.any(-1).to(at::kDouble);  // 1 per row with an allowed key, else 0
      CHECK(at::allclose(out.sum(-1), expected_mass, 0, 1e-12));
      CHECK_FALSE(at::allclose(out, w, 0, 1e-6));  // it did change the map
    }
}

TEST_CASE("uniform on a row-stochastic map is 1/K over the unmasked positions") {
  for (const auto& [mask_name, mask] : test_masks(B, Q, K)) {
    INFO("mask " << mask_name);
    at::Tensor w = stochastic_weights({B, H, Q, K}, mask, 6);
    at::Tensor m = cmm::full_mask(w, mask).to(at::kDouble);
    at::Tensor out = edited(cmm::Edit::Uniform, w, mask);
    at::Tensor allowed = m.sum(-1, true);
    CHECK(at::allclose(out, m / allowed.clamp_min(1), 0, 1e-14));
    if (mask_name == "none") CHECK(at::allclose(out, at::full_like(w, 1.0 / K), 0, 1e-14));
  }
}

TEST_CASE("reversed is 0 where the map is at its row maximum, largest where it is smallest") {
  for (const auto& [mask_name, mask] : test_masks(B, Q, K)) {
    INFO("mask " << mask_name);
    at::Tensor w = stochastic_weights({B, H, Q, K}, mask, 7);
    at::Tensor m = cmm::full_mask(w, mask);
    at::Tensor out = edited(cmm::Edit::Reversed, w, mask);
    at::Tensor argmax = at::where(m, w, at::full_like(w, -1)).argmax(-1, true);
    at::Tensor argmin = at::where(m, w, at::full_like(w, 2)).argmin(-1, true);
    at::Tensor rows = m.sum(-1, true).ge(2);  // rows with at least two allowed keys have something to reverse
    CHECK(out.gather(-1, argmax).masked_select(rows).abs().max().item<double>() == 0.0);
    CHECK(out.gather(-1, argmin).masked_select(rows).allclose(out.amax(-1, true).masked_select(rows)));
    // Reversal is affine in each row: out ∝ max − w over the allowed positions.
    at::Tensor r = (w.amax(-1, true) - w) * m.to(at::kDouble);
    if (mask_name == "none") CHECK(at::allclose(out, r / r.sum(-1, true), 0, 1e-14));
  }
}

TEST_CASE("a row with one allowed key, or with all allowed weights equal, is left uniform by reversed") {
  at::Tensor w = at::full({1, 1, 2, 4}, 0.25, at::kDouble);
  w[0][0][1] = at::tensor({1.0, 0.0, 0.0, 0.0}, at::kDouble);
  at::Tensor mask = at::tensor({1, 1, 1, 1, 1, 0, 0, 0}, at::kLong).to(at::kBool).view({1, 1, 2, 4});
  at::Tensor out = edited(cmm::Edit::Reversed, w, mask);
  CHECK(at::allclose(out[0][0][0], at::full({4}, 0.25, at::kDouble)));
  CHECK(at::allclose(out[0][0][1], at::tensor({1.0, 0.0, 0.0, 0.0}, at::kDouble)));
}

TEST_CASE("shuffle_keys permutes each row, with one permutation per head shared by batch rows and queries") {
  for (const auto& [mask_name, mask] : test_masks(B, Q, K)) {
    INFO("mask " << mask_name);
    at::Tensor w = stochastic_weights({B, H, Q, K}, mask, 8);
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(3);
    at::Tensor u = cmm::draw_for_edit(cmm::Edit::ShuffleKeys, w.sizes(), gen);
    REQUIRE(u.sizes() == at::IntArrayRef({H, K}));
    at::Tensor out = cmm::edit_attention(w, mask, cmm::Edit::ShuffleKeys, u);
    // A permutation of each row: the same multiset of values.
    CHECK(at::equal(std::get<0>(out.sort(-1)), std::get<0>(w.sort(-1))));
    if (mask_name == "none") {
      // Without a mask: out[..., k] = w[..., π_h(k)] with π_h = argsort(u_h), for every batch row and query.
      at::Tensor pi = u.argsort(/*dim=*/-1, /*descending=*/false).view({1, H, 1, K}).expand(w.sizes());
      CHECK(at::equal(out, w.gather(-1, pi)));
      CHECK_FALSE(at::equal(u[0].argsort(), u[1].argsort()));  // heads got different permutations
    }
  }
}

TEST_CASE("random draws fresh noise: two draws differ, the same seed repeats") {
  at::Tensor w = stochastic_weights({B, H, Q, K}, {}, 9);
  CHECK(at::equal(edited(cmm::Edit::Random, w, {}, 1), edited(cmm::Edit::Random, w, {}, 1)));
  CHECK_FALSE(at::allclose(edited(cmm::Edit::Random, w, {}, 1), edited(cmm::Edit::Random, w, {}, 2)));
  CHECK(cmm::edit_is_random(cmm::Edit::Random));
  CHECK(cmm::edit_is_random(cmm::Edit::Shuffle));
  CHECK(cmm::edit_is_random(cmm::Edit::ShuffleKeys));
  CHECK_FALSE(cmm::edit_is_random(cmm::Edit::Uniform));
  CHECK_FALSE(cmm::edit_is_random(cmm::Edit::Reversed));
}

TEST_CASE("edits work in float32 and keep the weights' dtype") {
  at::Tensor w = stochastic_weights({B, H, Q, K}, {}, 10).to(at::kFloat);
  for (const auto& name : cmm::edit_names()) {
    at::Tensor out = edited(cmm::parse_edit(name), w, {});
    CHECK((out.scalar_type() == at::kFloat));
    CHECK(at::allclose(out.sum(-1), at::ones({B, H, Q}), 0, 1e-5));
  }
  CHECK(error_of([] { cmm::parse_edit("inverted"); }).find("random, uniform, reversed, shuffle, shuffle_keys") != std::string::npos);
}
