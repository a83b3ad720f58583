// The contrastive prediction's properties (methods.md): γ = 0 gives the factual logits, ε = 1 keeps only the
// arg-max, s = (1 + nγ)·l − γ·Σ l_cf with n levels, and the cut-off is finite and below every kept score.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <doctest/doctest.h>

#include "../../../plugins/causalmm/contrast.hpp"

namespace cmm = mmdebias::causalmm;

namespace {

at::Tensor logits(uint64_t seed, double scale = 2.0) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randn({16, 7}, gen, at::TensorOptions().dtype(at::kDouble)) * scale;
}

}  // namespace

TEST_CASE("gamma = 0 gives the factual logits (and the cut-off then only lowers implausible classes)") {
  at::Tensor l = logits(1);
  std::vector<at::Tensor> cf = {logits(2), logits(3)};
  CHECK(at::equal(cmm::contrastive_prediction(l, l, cf, 0.0, 0.0), l));
  at::Tensor s = cmm::contrastive_prediction(l, l, cf, 0.0, 0.3);
  at::Tensor keep = cmm::plausible(l, 0.3);
  CHECK(at::equal(s.masked_select(keep), l.masked_select(keep)));
  CHECK(at::equal(s.argmax(-1), l.argmax(-1)));
}

TEST_CASE("epsilon = 1 keeps only the arg-max of the factual prediction") {
  at::Tensor l = logits(4);
  std::vector<at::Tensor> cf = {logits(5)};
  at::Tensor keep = cmm::plausible(l, 1.0);
  CHECK(at::equal(keep.sum(-1), at::ones({16}, at::kLong)));
  CHECK(at::equal(keep.to(at::kLong).argmax(-1), l.argmax(-1)));
  // Whatever the counterfactual says, the prediction is the factual arg-max.
  at::Tensor s = cmm::contrastive_prediction(l, l, cf, 5.0, 1.0);
  CHECK(at::equal(s.argmax(-1), l.argmax(-1)));
  // epsilon = 0 cuts nothing.
  CHECK(at::equal(cmm::plausible(l, 0.0).sum(-1), at::full({16}, 7, at::kLong)));
}

TEST_CASE("with n levels the contrast is (1 + n·gamma)·l − gamma·Σ l_cf") {
  at::Tensor l = logits(6);
  std::vector<at::Tensor> cf = {logits(7), logits(8), logits(9)};
  const double gamma = 0.5;
  at::Tensor expected = (1 + 3 * gamma) * l - gamma * (cf[0] + cf[1] + cf[2]);
  CHECK(at::allclose(cmm::contrast(l, l, cf, gamma), expected, 1e-12, 1e-12));
  // Logits adjusted upstream (l != l_f) get the attention effect l_f − l_cf added once.
  at::Tensor upstream = l - 1.5;
  CHECK(at::allclose(cmm::contrast(upstream, l, cf, gamma), expected - 1.5, 1e-12, 1e-12));
}

TEST_CASE("a cut class is finite, below every kept score, and its probability underflows to 0") {
  at::Tensor l = logits(10, 4.0);
  at::Tensor s = cmm::contrastive_prediction(l, l, {logits(11)}, 1.0, 0.6);
  at::Tensor keep = cmm::plausible(l, 0.6);
  REQUIRE(keep.logical_not().any().item<bool>());
  CHECK(at::isfinite(s).all().item<bool>());
  at::Tensor lowest_kept = at::where(keep, s, at::full_like(s, INFINITY)).amin(-1, true);
  CHECK(at::equal(at::where(keep, at::zeros_like(s), lowest_kept - cmm::kCutOffset), at::where(keep, at::zeros_like(s), s)));
  CHECK(at::softmax(s, -1).masked_select(keep.logical_not()).max().item<double>() == 0.0);
  CHECK(at::softmax(s.to(at::kFloat), -1).masked_select(keep.logical_not()).max().item<float>() == 0.0f);
}
