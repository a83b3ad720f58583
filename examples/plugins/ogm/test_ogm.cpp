// Unit tests of ogm.modulation with the SDK's test doubles (no host): the coefficient against values computed by
// hand from the paper's Eq. 10, what is scaled and what is not, the noise's scale, and the options.
#include "mmdebias/sdk/testing.hpp"
#include "ogm.hpp"

// doctest after LibTorch's headers: c10 defines a CHECK macro of its own, and the last definition wins.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cmath>

using namespace mmdebias::sdk;
using namespace mmdebias::sdk::testing;

namespace {

constexpr int64_t kRows = 30, kClasses = 3;

FakeRegistrar registered() {
  FakeRegistrar r;
  ogm_plugin::register_components(r);
  return r;
}

BuildArgs two_modalities(const FakeModel& model) {
  BuildArgs a;
  a.name = "interventions.ogm";
  a.model = model.spec();
  return a;
}

// A step whose modality 'a' predicts every label with probability ~1 and 'b' with 1/3 (uniform logits), so
// rho_a = s_a / s_b ~ 3; the encoders' gradients are those of the fused cross-entropy.
struct Fixture {
  FakeModel model{{{"a", 64}, {"b", 64}}, 32, kClasses};
  Batch batch;
  ForwardRecord record;
  Fixture() {
    at::manual_seed(0);
    at::Tensor labels = at::arange(kRows, at::kLong).remainder(kClasses);
    batch = make_batch({{"a", at::randn({kRows, 64})}, {"b", at::randn({kRows, 64})}}, labels);
    record = model.forward(batch, {});
    at::cross_entropy_loss(record.logits, batch.label).backward();
    record.modality_logits["a"] = at::one_hot(labels, kClasses).to(at::kFloat) * 40;
    record.modality_logits["b"] = at::zeros({kRows, kClasses});
  }
  std::vector<at::Tensor> grads(const std::string& m) {
    std::vector<at::Tensor> out;
    for (auto& p : model.encoder(m).parameters()) out.push_back(p.grad().clone());
    return out;
  }
};

}  // namespace

TEST_CASE("the coefficient is 1 - tanh(alpha * rho) for the dominant modality and 1 for the other") {
  // By hand: tanh(0.5 * 3) = 0.905148253986..., tanh(0.1 * 2) = 0.197375320225...
  auto k = ogm_plugin::coefficients(3.0, 1.0, 0.5);
  CHECK(k[0] == doctest::Approx(1 - 0.905148253986).epsilon(1e-9));
  CHECK(k[1] == 1.0);
  k = ogm_plugin::coefficients(1.0, 2.0, 0.1);
  CHECK(k[0] == 1.0);
  CHECK(k[1] == doctest::Approx(1 - 0.197375320225).epsilon(1e-9));
  // Equal scores: the released code damps the first modality (it tests the second's ratio > 1 first).
  k = ogm_plugin::coefficients(2.0, 2.0, 0.5);
  CHECK(k[0] == doctest::Approx(1 - 0.462117157260).epsilon(1e-9));
  CHECK(k[1] == 1.0);
}

TEST_CASE("mode ogm scales the dominant encoder's gradient by k exactly and leaves the other's") {
  Fixture f;
  auto before_a = f.grads("a"), before_b = f.grads("b");
  auto ogm = registered().intervention("modulation", two_modalities(f.model), {{"alpha", 0.5}, {"mode", std::string("ogm")}});
  FakeContext ctx;
  ogm->after_backward(step_of({{f.batch, f.record}}), f.model, ctx);
  const double s_a = kRows, s_b = kRows / 3.0;  // probability ~1 per row, and 1/3 per row
  CHECK(std::abs(ctx.metrics.at("ratio") / (s_a / s_b) - 1) < 1e-6);
  const double k = 1 - std::tanh(0.5 * s_a / s_b);
  CHECK(std::abs(ctx.metrics.at("coefficient/a") / k - 1) < 1e-5);
  CHECK(ctx.metrics.at("coefficient/b") == 1.0);
  auto after_a = f.grads("a"), after_b = f.grads("b");
  for (size_t i = 0; i < after_a.size(); ++i) {
    CHECK(at::allclose(after_a[i], before_a[i] * ctx.metrics.at("coefficient/a"), 1e-6, 1e-9));
    CHECK(at::equal(after_b[i], before_b[i]));
  }
}

TEST_CASE("mode ogm_ge adds noise with the standard deviation of each gradient") {
  Fixture f;
  auto before = f.grads("b");  // b is not damped: after - before is the noise alone
  auto ogm = registered().intervention("modulation", two_modalities(f.model), {{"alpha", 0.5}});
  FakeContext ctx;
  ogm->after_backward(step_of({{f.batch, f.record}}), f.model, ctx);
  at::Tensor weight_before = before[0], weight_after = f.grads("b")[0];  // [32, 64]: 2048 draws
  const at::Tensor noise = weight_after - weight_before;
  const double noise_sd = noise.std().item<double>(), grad_sd = weight_before.std().item<double>();
  REQUIRE(grad_sd > 0);
  // 2048 draws: the sample sd is within 10% and the mean within 4 standard errors, by a wide margin.
  CHECK(std::abs(noise_sd / grad_sd - 1) < 0.1);
  CHECK(std::abs(noise.mean().item<double>()) < 4 * grad_sd / std::sqrt(2048.0));
}

TEST_CASE("the scores are summed over the step's micro-batches") {
  Fixture f;
  auto ogm = registered().intervention("modulation", two_modalities(f.model), {{"alpha", 0.5}, {"mode", std::string("ogm")}});
  // The step in one micro-batch, and the same rows as two micro-batches of 10 and 20 (b's logits favour class 0,
  // so the second part's score differs from the first's in proportion: a per-micro-batch ratio would not match).
  f.record.modality_logits["b"] = at::zeros({kRows, kClasses}).index_fill_(1, at::tensor({int64_t{0}}), 2.0);
  FakeContext whole, parts;
  ogm->after_backward(step_of({{f.batch, f.record}}), f.model, whole);
  auto slice = [&](int64_t from, int64_t n) {
    Batch b = make_batch({{"a", f.batch.inputs["a"].narrow(0, from, n)}, {"b", f.batch.inputs["b"].narrow(0, from, n)}},
                         f.batch.label.narrow(0, from, n));
    ForwardRecord r;
    for (const auto& m : {"a", "b"}) r.modality_logits[m] = f.record.modality_logits[m].narrow(0, from, n);
    return std::make_pair(b, r);
  };
  ogm->after_backward(step_of({slice(0, 10), slice(10, 20)}), f.model, parts);
  CHECK(std::abs(parts.metrics.at("ratio") / whole.metrics.at("ratio") - 1) < 1e-12);
  CHECK(parts.reductions == 1);  // one all_reduce_sum of both scores per step
}

TEST_CASE("outside start_epoch..end_epoch the gradients are left alone and alpha 0 in mode ogm changes nothing") {
  Fixture f;
  auto before = f.grads("a");
  FakeContext late;
  late.epoch_value = 51;
  registered().intervention("modulation", two_modalities(f.model), {{"alpha", 0.5}})->after_backward(step_of({{f.batch, f.record}}), f.model, late);
  CHECK(late.metrics.count("ratio") == 1);  // measured and logged all the same
  FakeContext now;
  registered().intervention("modulation", two_modalities(f.model), {{"alpha", 0.0}, {"mode", std::string("ogm")}})
      ->after_backward(step_of({{f.batch, f.record}}), f.model, now);
  auto after = f.grads("a");
  for (size_t i = 0; i < after.size(); ++i) CHECK(at::equal(after[i], before[i]));
}

TEST_CASE("the options: alpha is required and two modalities and end_epoch not before start_epoch") {
  FakeModel three({{"a", 2}, {"b", 2}, {"c", 2}}, 4, kClasses);
  CHECK_THROWS_WITH_AS(registered().intervention("modulation"), "option 'alpha' is required and has no value", std::invalid_argument);
  CHECK_THROWS_WITH_AS(registered().intervention("modulation", two_modalities(three), {{"alpha", 0.5}}),
                       "ogm.modulation compares two modalities; the dataset has 3", std::invalid_argument);
  FakeModel two({{"a", 2}, {"b", 2}}, 4, kClasses);
  CHECK_THROWS_AS(registered().intervention("modulation", two_modalities(two), {{"alpha", 0.5}, {"start_epoch", int64_t{3}}, {"end_epoch", int64_t{2}}}),
                  std::invalid_argument);
  CHECK(registered().decl("modulation").needs == std::vector<std::string>{capability::kModalityLogits});
}
