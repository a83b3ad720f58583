// arl.uncertainty and arl.reweight: the properties shared/methods.md pins (equal uncertainty -> equal weights,
// Σw = 1, the clamp bounds, the scaler's identity forward and (1 + w_m) backward, out = Σ out_m − (M−1)·b),
// the estimators' definitions, the ema state, the warm-up, and the errors for bad use.
#include <cmath>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include <doctest/doctest.h>

#include "arl_helpers.hpp"
#include "mmdebias/core/errors.hpp"

using namespace arltest;

namespace {

at::Tensor labels(std::vector<int64_t> v) { return at::tensor(v, at::kLong); }

double entropy_mean(const at::Tensor& logits) {
  at::Tensor logp = at::log_softmax(logits.to(at::kDouble), 1);
  return (-(logp.exp() * logp).sum(1)).mean().item<double>();
}

}  // namespace

TEST_CASE("equal uncertainty gives equal weights 1/M, and the weights sum to 1") {
  RecordingContext ctx;
  at::manual_seed(1);
  for (int m : {2, 3, 5}) {
    CAPTURE(m);
    auto e = estimator(m, {{"clamp", 0.01}});
    at::Tensor logits = at::randn({8, 4});
    std::vector<at::Tensor> same(m, logits);  // identical logits: identical entropy
    at::Tensor w = weights_of(*e, same, labels({0, 1, 2, 3, 0, 1, 2, 3}), ctx);
    CHECK(at::allclose(w, at::full({m}, 1.0 / m, at::kDouble), 0, 1e-12));
    std::vector<at::Tensor> different;
    for (int i = 0; i < m; ++i) different.push_back(at::randn({8, 4}) * (i + 1));
    w = weights_of(*e, different, labels({0, 1, 2, 3, 0, 1, 2, 3}), ctx);
    CHECK(w.sum().item<double>() == doctest::Approx(1.0).epsilon(1e-12));
    CHECK((w > 0).all().item<bool>());
  }
}

TEST_CASE("the more certain modality gets the larger weight, w_m = (1/Û_m) / Σ 1/Û_k from the batch entropy") {
  RecordingContext ctx;
  auto e = estimator(2);
  at::manual_seed(2);
  at::Tensor sharp = at::randn({16, 5}) * 2.5, flat = at::randn({16, 5}) * 0.5;
  sdk::Estimates est;
  e->observe(logits_record({sharp, flat}), est, ctx);
  const double h0 = entropy_mean(sharp), h1 = entropy_mean(flat);
  const double n0 = std::max(h0 / (h0 + h1), 0.3), n1 = std::max(h1 / (h0 + h1), 0.3);
  CHECK(est.get("arl.uncertainty")[0].item<double>() == doctest::Approx(h0).epsilon(1e-12));
  CHECK(est.get("arl.uncertainty")[1].item<double>() == doctest::Approx(h1).epsilon(1e-12));
  CHECK(est.get("arl.uncertainty_normalized")[0].item<double>() == doctest::Approx(n0).epsilon(1e-12));
  const at::Tensor w = est.get("arl.weights");
  CHECK(w[0].item<double>() == doctest::Approx((1 / n0) / (1 / n0 + 1 / n1)).epsilon(1e-12));
  CHECK(w[0].item<double>() > w[1].item<double>());
  CHECK(ctx.metrics.at("weight/m0") == doctest::Approx(w[0].item<double>()));
  CHECK(ctx.metrics.count("uncertainty/m1") == 1);
  CHECK(ctx.metrics.count("normalized/m1") == 1);
}

TEST_CASE("the 0.3 clamp keeps two modalities' weights within [0.3/1.3, 1/1.3] ~ [0.23, 0.77]") {
  RecordingContext ctx;
  auto e = estimator(2);
  at::Tensor certain = at::zeros({4, 3});
  certain.select(1, 0).fill_(60.0);           // entropy ~ 0
  at::Tensor uniform = at::zeros({4, 3});     // entropy log 3
  at::Tensor w = weights_of(*e, {certain, uniform}, labels({0, 0, 0, 0}), ctx);
  CHECK(w[0].item<double>() == doctest::Approx(1 / 1.3).epsilon(1e-9));
  CHECK(w[1].item<double>() == doctest::Approx(0.3 / 1.3).epsilon(1e-9));
  w = weights_of(*e, {uniform, certain}, labels({0, 0, 0, 0}), ctx);
  CHECK(w[0].item<double>() == doctest::Approx(0.3 / 1.3).epsilon(1e-9));
  at::manual_seed(3);
  for (int i = 0; i < 20; ++i) {  // random pairs never leave the bounds
    w = weights_of(*e, {at::randn({6, 3}) * (0.1 + i), at::randn({6, 3})}, labels({0, 1, 2, 0, 1, 2}), ctx);
    CHECK(w.min().item<double>() >= 0.3 / 1.3 - 1e-12);
    CHECK(w.max().item<double>() <= 1 / 1.3 + 1e-12);
  }
  // A smaller clamp widens the range: with clamp 0.01 the certain modality takes nearly everything.
  auto loose = estimator(2, {{"clamp", 0.01}});
  w = weights_of(*loose, {certain, uniform}, labels({0, 0, 0, 0}), ctx);
  CHECK(w[0].item<double>() > 0.98);
}

TEST_CASE("the variance estimator uses the population variance of the true-class probability over the batch") {
  RecordingContext ctx;
  auto e = estimator(2, {{"estimator", std::string("variance")}, {"clamp", 0.01}});
  at::manual_seed(4);
  at::Tensor a = at::randn({10, 4}, at::kDouble) * 2, b = at::randn({10, 4}, at::kDouble);
  at::Tensor y = labels({0, 1, 2, 3, 0, 1, 2, 3, 0, 1});
  sdk::Estimates est;
  sdk::ForwardRecord r = logits_record({a, b});
  e->observe(r, est, ctx);
  // Published before the labels are known, filled by the loss hook (which gets the batch) in place.
  CHECK(std::isnan(est.get("arl.weights")[0].item<double>()));
  sdk::Batch batch;
  batch.label = y;
  sdk::LossTerms terms;
  e->loss(r, batch, est, terms, ctx);
  CHECK(terms.terms().empty());
  for (int m = 0; m < 2; ++m) {
    at::Tensor p = at::softmax(m == 0 ? a : b, 1).gather(1, y.reshape({-1, 1})).reshape({-1});
    CHECK(est.get("arl.uncertainty")[m].item<double>() == doctest::Approx(p.var(/*unbiased=*/false).item<double>()).epsilon(1e-12));
  }
  CHECK(est.get("arl.weights").sum().item<double>() == doctest::Approx(1.0));
}

TEST_CASE("ema mode averages over steps, updates only in training, and keeps its state in buffers") {
  auto e = estimator(2, {{"mode", std::string("ema")}, {"decay", 0.75}});
  RecordingContext train(sdk::Phase::Train), eval(sdk::Phase::Eval);
  at::manual_seed(5);
  std::vector<std::vector<at::Tensor>> steps;
  for (int i = 0; i < 3; ++i) steps.push_back({at::randn({6, 3}) * (i + 1), at::randn({6, 3})});
  at::Tensor y = labels({0, 1, 2, 0, 1, 2});
  at::Tensor expected;
  for (const auto& s : steps) {
    at::Tensor u = at::tensor({entropy_mean(s[0]), entropy_mean(s[1])}, at::kDouble);
    expected = expected.defined() ? 0.75 * expected + 0.25 * u : u;
    at::Tensor got = weights_of(*e, s, y, train, "arl.uncertainty");
    CHECK(at::allclose(got, expected, 0, 1e-12));
  }
  // Evaluation reads the average without moving it.
  CHECK(at::allclose(weights_of(*e, {at::zeros({6, 3}), at::zeros({6, 3})}, y, eval, "arl.uncertainty"), expected, 0, 1e-12));
  auto buffers = e->named_buffers();
  REQUIRE(buffers.contains("ema"));
  CHECK(at::allclose(buffers["ema"], expected, 0, 1e-12));
  CHECK(buffers["ema_steps"].item<int64_t>() == 3);
  // A fresh estimator given the saved buffers continues the same average (what resume relies on).
  auto restored = estimator(2, {{"mode", std::string("ema")}, {"decay", 0.75}});
  restored->named_buffers()["ema"].copy_(buffers["ema"]);
  restored->named_buffers()["ema_steps"].copy_(buffers["ema_steps"]);
  at::Tensor u = at::tensor({entropy_mean(steps[0][0]), entropy_mean(steps[0][1])}, at::kDouble);
  CHECK(at::allclose(weights_of(*restored, steps[0], y, train, "arl.uncertainty"), 0.75 * expected + 0.25 * u, 0, 1e-12));
}

TEST_CASE("statistics are reduced over ranks in training only (evaluation may skip a rank's empty batch)") {
  auto e = estimator(2);
  RecordingContext train(sdk::Phase::Train), eval(sdk::Phase::Eval);
  std::vector<at::Tensor> logits{at::randn({4, 3}), at::randn({4, 3})};
  weights_of(*e, logits, labels({0, 1, 2, 0}), train);
  CHECK(train.reductions == 1);  // one collective for every modality's sums and the count
  weights_of(*e, logits, labels({0, 1, 2, 0}), eval);
  CHECK(eval.reductions == 0);
}

TEST_CASE("the deferred gradient scaler is the identity forward and (1 + w_m) backward with this step's weights") {
  auto arl = intervention(2, {{"start", int64_t{0}}});
  RecordingContext ctx(sdk::Phase::Train, 0);
  at::Tensor z0 = at::randn({5, 4}, at::kDouble).requires_grad_(true), z1 = at::randn({5, 4}, at::kDouble).requires_grad_(true);
  at::Tensor y0 = arl->on_features("m0", z0, ctx), y1 = arl->on_features("m1", z1, ctx);
  CHECK(at::equal(y0, z0));
  CHECK(at::equal(y1, z1));
  // The weights arrive after the forward (as in the engine: estimator at hook 5, reweight's loss at 6).
  sdk::Estimates est;
  est.set("arl.weights", at::tensor({0.7, 0.3}, at::kDouble));
  sdk::ForwardRecord record;
  record.modality_logits["m0"] = y0.narrow(1, 0, 3);
  record.modality_logits["m1"] = y1.narrow(1, 0, 3);
  sdk::Batch batch;
  batch.label = labels({0, 1, 2, 0, 1});
  sdk::LossTerms terms;
  NoModel model;
  arl->loss(record, batch, est, model, terms, ctx);
  at::Tensor g0 = at::randn({5, 4}, at::kDouble), g1 = at::randn({5, 4}, at::kDouble);
  torch::autograd::backward({(y0 * g0).sum() + (y1 * g1).sum()});
  CHECK(at::allclose(z0.grad(), 1.7 * g0, 0, 1e-14));
  CHECK(at::allclose(z1.grad(), 1.3 * g1, 0, 1e-14));
  CHECK(ctx.metrics.at("scale/m0") == doctest::Approx(1.7));
  CHECK(ctx.metrics.at("active") == 1.0);
  // Outside training the features pass through untouched (no node at all).
  RecordingContext eval(sdk::Phase::Eval);
  CHECK(arl->on_features("m0", z0, eval).is_same(z0));
}

TEST_CASE("scaling: release scales encoder m's gradient by 1 + softmax(T * share of the other modality * w_m), as released") {
  auto arl = intervention(2, {{"start", int64_t{0}}, {"scaling", std::string("release")}, {"temperature", 8.0}});
  RecordingContext ctx(sdk::Phase::Train, 0);
  // |z1| = |z0| elementwise, and modality 0's logits are 3·z0: the |logit| shares are exactly 3/4 and 1/4.
  at::Tensor z0 = at::randn({4, 3}, at::kDouble).requires_grad_(true);
  at::Tensor z1 = (z0.detach().abs() * at::sign(at::randn({4, 3}, at::kDouble))).requires_grad_(true);
  at::Tensor y0 = arl->on_features("m0", z0, ctx), y1 = arl->on_features("m1", z1, ctx);
  sdk::Estimates est;
  est.set("arl.weights", at::tensor({0.7, 0.3}, at::kDouble));
  sdk::ForwardRecord record;
  record.modality_logits["m0"] = 3 * y0;
  record.modality_logits["m1"] = y1;
  sdk::Batch batch;
  batch.label = labels({0, 1, 2, 0});
  sdk::LossTerms terms;
  NoModel model;
  arl->loss(record, batch, est, model, terms, ctx);
  // The release: weight = softmax([ĉ_v·w_a·T, ĉ_a·w_v·T]), ĉ the normalised mean |logit| of each modality; its
  // GradScale multiplies the gradient by 1 + weight.
  const double a = 0.25 * 0.7 * 8, b = 0.75 * 0.3 * 8;
  const double f0 = 1 + std::exp(a) / (std::exp(a) + std::exp(b)), f1 = 3 - f0;
  CHECK(ctx.metrics.at("logit_share/m0") == doctest::Approx(0.75).epsilon(1e-12));
  CHECK(ctx.metrics.at("scale/m0") == doctest::Approx(f0).epsilon(1e-12));
  CHECK(ctx.metrics.at("scale/m1") == doctest::Approx(f1).epsilon(1e-12));
  at::Tensor g0 = at::randn({4, 3}, at::kDouble), g1 = at::randn({4, 3}, at::kDouble);
  torch::autograd::backward({(y0 * g0).sum() + (y1 * g1).sum()});
  CHECK(at::allclose(z0.grad(), f0 * g0, 0, 1e-12));
  CHECK(at::allclose(z1.grad(), f1 * g1, 0, 1e-12));
  // One collective per training step for the shares.
  CHECK(ctx.reductions == 1);
}

TEST_CASE("the warm-up: before `start` epochs no scaling and L = CE(out) + warmup_gamma * Σ CE(out_m)") {
  auto arl = intervention(2, {{"start", int64_t{2}}, {"gamma", 3.0}});
  for (int64_t epoch : {0, 1, 2}) {
    CAPTURE(epoch);
    RecordingContext ctx(sdk::Phase::Train, epoch);
    at::Tensor z = at::randn({4, 3}, at::kDouble).requires_grad_(true);
    at::Tensor y = arl->on_features("m0", z, ctx);
    sdk::Estimates est;
    est.set("arl.weights", at::tensor({0.6, 0.4}, at::kDouble));
    sdk::ForwardRecord record;
    record.modality_logits["m0"] = y;
    record.modality_logits["m1"] = at::zeros({4, 3}, at::kDouble);
    sdk::Batch batch;
    batch.label = labels({0, 1, 2, 0});
    sdk::LossTerms terms;
    NoModel model;
    arl->loss(record, batch, est, model, terms, ctx);
    REQUIRE(terms.terms().size() == 1);
    const auto& t = terms.terms()[0];
    CHECK(t.name == "bias");
    CHECK(t.weight == (epoch >= 2 ? 3.0 : 1.0));
    CHECK(terms.task_weight() == 1.0);
    const double expected = at::cross_entropy_loss(y, batch.label).item<double>() + std::log(3.0);
    CHECK(t.value.item<double>() == doctest::Approx(expected).epsilon(1e-12));
    t.value.backward();
    at::Tensor unscaled = torch::autograd::grad({at::cross_entropy_loss(z, batch.label)}, {z})[0];
    CHECK(at::allclose(z.grad(), unscaled * (epoch >= 2 ? 1.6 : 1.0), 0, 1e-14));
  }
}

TEST_CASE("std.concat's unimodal logits satisfy out = Σ_m out_m − (M − 1)·b") {
  for (int m : {2, 3}) {
    CAPTURE(m);
    std::vector<std::pair<std::string, sdk::FeatureSpec>> specs;
    for (int i = 0; i < m; ++i) specs.push_back({"m" + std::to_string(i), stdtest::pooled(3 + i)});
    auto fusion = stdtest::make_fusion("std.concat", specs, 4);
    REQUIRE(fusion->has_modality_heads());
    sdk::Features f = stdtest::random_features(specs, 6);
    at::Tensor out = fusion->head(fusion->fuse(f, sdk::AttentionSites()));
    at::Tensor sum = at::zeros_like(out);
    for (const auto& kv : f) sum = sum + fusion->modality_head(kv.first, kv.second);
    at::Tensor b = fusion->named_parameters()["head.bias"];
    CHECK(at::allclose(out, sum - (m - 1) * b, 1e-6, 1e-6));
  }
}

TEST_CASE("bad use gives clear errors naming the component") {
  using stdtest::contains;
  using stdtest::error_of;
  CHECK(contains(error_of([] { estimator(1); }), "arl.uncertainty compares modalities and needs at least 2"));
  CHECK(contains(error_of([] { intervention(1); }), "arl.reweight reweights modalities against each other and needs at least 2"));
  CHECK_THROWS_AS(stdtest::options("arl.uncertainty", {{"clamp", 0.0}}), mmdebias::core::InputError);
  CHECK_THROWS_AS(stdtest::options("arl.uncertainty", {{"estimator", std::string("varaince")}}), mmdebias::core::InputError);
  CHECK_THROWS_AS(stdtest::options("arl.reweight", {{"gamma", -1.0}}), mmdebias::core::InputError);
  CHECK_THROWS_AS(stdtest::options("arl.reweight", {{"start", int64_t{-1}}}), mmdebias::core::InputError);
  // The intervention without the estimator's weights says what is missing.
  auto arl = intervention(2);
  RecordingContext ctx;
  sdk::Estimates none;
  sdk::ForwardRecord record = logits_record({at::zeros({2, 3}), at::zeros({2, 3})});
  sdk::Batch batch;
  batch.label = labels({0, 1});
  sdk::LossTerms terms;
  NoModel model;
  CHECK(contains(error_of([&] { arl->loss(record, batch, none, model, terms, ctx); }), "estimate 'arl.weights' was not published"));
  // The estimator refuses a record without per-modality logits.
  auto e = estimator(2);
  sdk::Estimates est;
  CHECK(contains(error_of([&] { e->observe(sdk::ForwardRecord(), est, ctx); }), "no per-modality logits for 'm0'"));
  // Capabilities: both need per-modality logits; the intervention needs the estimator's weights.
  const auto& ed = registry().get("arl.uncertainty").decl;
  const auto& id = registry().get("arl.reweight").decl;
  CHECK(ed.needs == std::vector<std::string>{"modality_logits"});
  CHECK(ed.provides == std::vector<std::string>{"arl.weights"});
  CHECK(id.needs == std::vector<std::string>{"modality_logits", "arl.weights"});
}
