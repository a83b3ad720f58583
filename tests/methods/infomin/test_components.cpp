// infomin's components through the real loader: the confounder's terms and their schedule, the debias
// prediction, and the backdoor intervention's lifecycle (collect, fit, gate) and its backdoor average.
#include <ATen/ATen.h>
#include <doctest/doctest.h>

#include "infomin_helpers.hpp"

using namespace infomintest;

namespace {

/// The terms of the confounder's loss for features x and labels y in the given epoch.
std::map<std::string, sdk::LossTerm> confounder_terms(sdk::BiasEstimator& est, const at::Tensor& x, const at::Tensor& y,
                                                      TestContext& ctx, sdk::Estimates& estimates) {
  sdk::ForwardRecord record;
  record.fused_input = x;
  est.observe_fused(record, estimates, ctx);
  record.fused = x * 2;
  sdk::Batch batch;
  batch.label = y;
  sdk::LossTerms terms;
  est.loss(record, batch, estimates, terms, ctx);
  std::map<std::string, sdk::LossTerm> out;
  for (const auto& t : terms.terms()) out[t.name] = t;
  return out;
}

/// Sets a backdoor intervention's centroids buffer.
void set_centroids(sdk::Intervention& iv, const at::Tensor& c) {
  at::NoGradGuard g;
  buffer(iv, "centroids").set_(c.clone());
}

}  // namespace

TEST_CASE("confounder publishes r and b_logit and stops its terms after bias_epochs and sg(x) keeps R and CE_b off x") {
  at::manual_seed(1);
  auto est = make_confounder(12, 4, {{"bias_epochs", int64_t{2}}, {"contrastive_weight", 0.0}});
  at::Tensor x = at::randn({10, 12}).requires_grad_(true), y = at::randint(4, {10}, at::kLong);
  TestContext ctx;
  sdk::Estimates e;
  auto terms = confounder_terms(*est, x, y, ctx, e);
  CHECK(e.get("infomin.confounder").sizes() == at::IntArrayRef({10, 12}));
  CHECK(e.get("infomin.bias_logits").sizes() == at::IntArrayRef({10, 4}));
  REQUIRE(terms.size() == 2);  // rate, bias_ce (contrastive off)
  CHECK(terms.at("rate").weight <= 1.0);
  CHECK(terms.at("rate").weight > 0.0);
  (terms.at("rate").value * terms.at("rate").weight + terms.at("bias_ce").value).backward();
  CHECK((!x.grad().defined() || x.grad().abs().max().item<double>() == 0.0));
  CHECK(parameter(*est, "bias_fc1.weight").grad().abs().max().item<double>() > 0);

  ctx.epoch_ = 2;
  sdk::Estimates e2;
  CHECK(confounder_terms(*est, x, y, ctx, e2).empty());
}

TEST_CASE("confounder uses a fixed kappa when dynamic_kappa is false and adds the contrastive term by default") {
  auto est = make_confounder(8, 3, {{"dynamic_kappa", false}, {"kappa_coeff", 0.7}});
  TestContext ctx;
  sdk::Estimates e;
  auto terms = confounder_terms(*est, at::randn({6, 8}), at::randint(3, {6}, at::kLong), ctx, e);
  CHECK(terms.count("contrastive") == 1);
  CHECK(terms.at("rate").weight == doctest::Approx(0.7));
}

TEST_CASE("debias feeds FC(x − r) to the head, predicts logit − b_logit with subtract_bias, and names a missing confounder") {
  auto deb = make_intervention("infomin.debias", 8, 3, {{"subtract_bias", true}});
  CHECK((deb->hooks() & sdk::kOnFused) != 0);
  CHECK((deb->hooks() & sdk::kPredict) != 0);
  // The default is the release's TE-D prediction: the head's logit, no predict hook.
  CHECK((make_intervention("infomin.debias", 8, 3)->hooks() & sdk::kPredict) == 0);
  TestContext ctx;
  ctx.phase_ = sdk::Phase::Eval;
  sdk::Estimates none;
  CHECK_THROWS_WITH(deb->on_fused(at::randn({2, 8}), none, ctx), doctest::Contains("infomin.confounder"));

  sdk::Estimates e;
  at::Tensor r = at::randn({4, 8}), bl = at::randn({4, 3}), logits = at::randn({4, 3});
  e.set("infomin.confounder", r);
  e.set("infomin.bias_logits", bl);
  at::Tensor x = at::randn({4, 8});
  // x − r is what matters: shifting both x and r by the same amount changes nothing.
  at::Tensor a = deb->on_fused(x, e, ctx);
  sdk::Estimates shifted;
  shifted.set("infomin.confounder", r + 3);
  CHECK(at::allclose(deb->on_fused(x + 3, shifted, ctx), a, 1e-5, 1e-6));
  CHECK(a.min().item<double>() >= 0);  // ReLU
  auto fusion = make_concat(8, 3);
  FusionOnlyModel model(fusion);
  sdk::ForwardRecord record;
  record.logits = logits;
  CHECK(at::equal(deb->predict(record, logits, sdk::Batch{}, e, model, ctx), logits - bl));
}

TEST_CASE("backdoor averaging over K identical centroids equals one pass and distinct ones give the mean over k") {
  at::manual_seed(4);
  const int64_t d = 6, C = 3;
  auto fusion = make_concat(d, C);
  FusionOnlyModel model(fusion);
  auto many = make_intervention("infomin.backdoor", d, C, {{"clusters", int64_t{5}}});
  auto one = make_intervention("infomin.backdoor", d, C, {{"clusters", int64_t{1}}});
  {  // a gate that is not the identity, the same in both
    at::NoGradGuard g;
    parameter(*many, "gate.weight").copy_(at::randn({d, 2 * d}));
    parameter(*many, "gate.bias").copy_(at::randn({d}));
    parameter(*one, "gate.weight").copy_(parameter(*many, "gate.weight"));
    parameter(*one, "gate.bias").copy_(parameter(*many, "gate.bias"));
  }
  at::Tensor c = at::randn({1, d});
  set_centroids(*many, c.repeat({5, 1}));
  set_centroids(*one, c);
  TestContext ctx;
  ctx.phase_ = sdk::Phase::Eval;
  at::Tensor x = at::randn({7, d});
  auto predict = [&](sdk::Intervention& iv) {
    sdk::ForwardRecord record;
    record.fused = iv.on_fused(x, sdk::Estimates{}, ctx);
    record.logits = fusion->head(record.fused);
    return std::make_pair(iv.predict(record, record.logits, sdk::Batch{}, sdk::Estimates{}, model, ctx), record.logits);
  };
  const auto many_out = predict(*many), one_out = predict(*one);
  CHECK(at::allclose(many_out.first, one_out.first, 1e-6, 1e-6));
  CHECK(at::allclose(one_out.first, one_out.second, 1e-6, 1e-6));  // K = 1: the adjusted and the factual logits coincide

  // Distinct centroids: the mean over k of head(x ⊙ 2σ(W[x; c_k] + b)), unlike the nearest-centroid logits.
  at::Tensor cs = 3 * at::randn({5, d});
  set_centroids(*many, cs);
  const auto distinct = predict(*many);
  const at::Tensor& p = distinct.first;
  const at::Tensor& factual = distinct.second;
  at::Tensor w = parameter(*many, "gate.weight"), b = parameter(*many, "gate.bias");
  at::Tensor want = at::zeros_like(p);
  for (int64_t k = 0; k < 5; ++k)
    want += fusion->head(x * 2 * at::sigmoid(at::linear(at::cat({x, cs[k].unsqueeze(0).expand_as(x)}, 1), w, b))) / 5;
  CHECK(at::allclose(p, want, 1e-5, 1e-6));
  CHECK(!at::allclose(p, factual, 1e-3, 1e-3));
  // Earlier predict hooks' additive changes survive: logits − b passed in gives adjusted − b.
  sdk::ForwardRecord record;
  record.fused = many->on_fused(x, sdk::Estimates{}, ctx);
  record.logits = fusion->head(record.fused);
  at::Tensor shift = at::randn({7, C});
  CHECK(at::allclose(many->predict(record, record.logits - shift, sdk::Batch{}, sdk::Estimates{}, model, ctx), want - shift, 1e-5, 1e-6));
}

TEST_CASE("backdoor is the identity until fitted and collects epoch fit_epoch and fits K centroids deterministically at the next epoch") {
  const int64_t d = 4, K = 3;
  auto fit_one = [&] {
    auto iv = make_intervention("infomin.backdoor", d, 2, {{"clusters", K}, {"fit_epoch", int64_t{1}}});
    TestContext ctx;
    at::manual_seed(9);
    for (int64_t epoch = 0; epoch < 2; ++epoch) {
      ctx.epoch_ = epoch;
      for (int64_t step = 0; step < 3; ++step) {
        sdk::Batch batch;
        batch.index = at::arange(step * 5, step * 5 + 5, at::kLong);
        iv->on_batch(batch, ctx);
        at::Tensor x = at::randn({5, d});
        CHECK(at::equal(iv->on_fused(x, sdk::Estimates{}, ctx), x));  // not fitted yet: identity
      }
      CHECK(buffer(*iv, "collected").size(0) == (epoch == 0 ? 0 : 15));
    }
    ctx.epoch_ = 2;
    sdk::Batch batch;
    batch.index = at::arange(0, 5, at::kLong);
    iv->on_batch(batch, ctx);
    at::Tensor x = at::randn({5, d});
    at::Tensor out = iv->on_fused(x, sdk::Estimates{}, ctx);  // fits, then gates (the gate starts at 1)
    CHECK(at::allclose(out, x));
    CHECK(buffer(*iv, "collected").size(0) == 0);
    return buffer(*iv, "centroids").clone();
  };
  at::Tensor a = fit_one(), b = fit_one();
  CHECK(a.sizes() == at::IntArrayRef({K, d}));
  CHECK(at::equal(a, b));

  auto greedy = make_intervention("infomin.backdoor", d, 2, {{"clusters", int64_t{50}}, {"fit_epoch", int64_t{0}}});
  TestContext ctx;
  sdk::Batch batch;
  batch.index = at::arange(0, 5, at::kLong);
  greedy->on_batch(batch, ctx);
  greedy->on_fused(at::randn({5, d}), sdk::Estimates{}, ctx);
  ctx.epoch_ = 1;
  greedy->on_batch(batch, ctx);
  CHECK_THROWS_WITH(greedy->on_fused(at::randn({5, d}), sdk::Estimates{}, ctx), doctest::Contains("lower clusters"));
}
