// a2d.npmix: queues fill then roll first-in first-out; outliers are convex combinations of two different
// classes with Beta(alpha, alpha) weights; nothing happens before the queues are full and start_epoch is
// reached; then the loss terms and their gradients on the separate modality heads agree with the torch reference
// for the injected draw, and they reach no parameter of the fused head; queues are saved.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/autograd.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include "../../../plugins/a2d/training/npmix_math.hpp"
#include "a2d_helpers.hpp"

using namespace a2dtest;
namespace a2d = mmdebias::a2d;

TEST_CASE("NP-Mix queues fill in batch order, drop a full class's samples while filling, then roll FIFO") {
  at::Tensor queues = at::zeros({2, 3, 1}, at::kDouble), counts = at::zeros({2}, at::kLong);
  auto feed = [&](std::vector<double> values, std::vector<int64_t> labels) {
    a2d::enqueue(queues, counts, at::tensor(values, at::kDouble).view({-1, 1}), at::tensor(labels, at::kLong));
  };
  feed({1, 2, 3, 4, 5}, {0, 0, 1, 0, 0});  // class 0 gets 1, 2, 4 and drops 5 (full while class 1 is not)
  CHECK(at::equal(queues[0].view(-1), at::tensor({1.0, 2.0, 4.0}, at::kDouble)));
  CHECK(counts[0].item<int64_t>() == 3);
  CHECK(counts[1].item<int64_t>() == 1);
  feed({6, 7, 8, 9}, {0, 1, 1, 1});  // class 0 still dropped; class 1 fills with 7, 8; 9 dropped
  CHECK(at::equal(queues[0].view(-1), at::tensor({1.0, 2.0, 4.0}, at::kDouble)));
  CHECK(at::equal(queues[1].view(-1), at::tensor({3.0, 7.0, 8.0}, at::kDouble)));
  feed({10, 11, 12, 13, 14}, {0, 1, 1, 1, 1});  // all full: FIFO, the oldest leave
  CHECK(at::equal(queues[0].view(-1), at::tensor({2.0, 4.0, 10.0}, at::kDouble)));
  CHECK(at::equal(queues[1].view(-1), at::tensor({12.0, 13.0, 14.0}, at::kDouble)));
}

TEST_CASE("NP-Mix outliers are convex combinations of two different classes, lambda ~ Beta(alpha, alpha)") {
  at::manual_seed(3);
  const int64_t classes = 5, q = 8;
  at::Tensor queues = at::randn({classes, q, 4}, at::kDouble) + at::arange(classes, at::kDouble).view({classes, 1, 1}) * 3;
  at::Tensor candidates = a2d::neighbour_candidates(queues.mean(1), 3);
  REQUIRE(candidates.sizes().equals({classes, 2}));
  CHECK(a2d::neighbour_candidates(queues.mean(1), 50).size(1) == classes - 1);  // capped at the other classes
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(5);
  std::vector<double> lambdas;
  for (int trial = 0; trial < 400; ++trial) {
    a2d::NpmixDraw d = a2d::draw_npmix(candidates, q, 10.0, gen);
    at::Tensor o = a2d::synthesize(queues, d);
    for (int64_t i = 0; i < classes; ++i) {
      const int64_t j = d.neighbour[i].item<int64_t>();
      const double lambda = d.lambda[i].item<double>();
      REQUIRE(j != i);
      REQUIRE((candidates[i] == j).any().item<bool>());
      REQUIRE((lambda > 0.0 && lambda < 1.0));
      at::Tensor a = queues[i][d.first[i].item<int64_t>()], b = queues[j][d.second[i].item<int64_t>()];
      REQUIRE(at::allclose(o[i], lambda * a + (1 - lambda) * b, 0, 1e-12));
      lambdas.push_back(lambda);
    }
  }
  const at::Tensor l = at::tensor(lambdas, at::kDouble);
  CHECK(l.mean().item<double>() == doctest::Approx(0.5).epsilon(0.02));
  CHECK(l.var().item<double>() == doctest::Approx(1.0 / (4 * 21)).epsilon(0.15));  // Beta(10, 10): 1 / (4 (2 alpha + 1))
}

TEST_CASE("a2d.npmix waits for full queues and start_epoch, then agrees with the torch reference for the draw") {
  const std::vector<std::pair<std::string, int64_t>> widths = {{"a", 3}, {"b", 2}};
  const int64_t classes = 4, q = 3;
  auto fusion = concat_fusion(widths, classes);
  FusionModel model({"a", "b"}, fusion);
  for (const std::string kind : {"hellinger", "wasserstein"}) {
    CAPTURE(kind);
    auto npmix = registry().make_intervention(
        "a2d.npmix", component_args("a2d.npmix", widths, classes,
                                    {{"queue_size", q}, {"start_epoch", int64_t{1}}, {"discrepancy", kind}, {"a2d_ratio_ood", 0.3}}));
    npmix->to(at::kDouble);
    TestContext ctx(&model);
    at::manual_seed(8);
    auto step = [&](int64_t epoch) {
      ctx.epoch_value = epoch;
      sdk::ForwardRecord record;
      // Values a float32 queue would hold exactly too.
      record.features["a"] = (at::randn({6, 3}, at::kDouble) * 64).round() / 64 + at::arange(6, at::kDouble).remainder(4).view({6, 1});
      record.features["b"] = (at::randn({6, 2}, at::kDouble) * 64).round() / 64;
      sdk::Batch batch;
      batch.label = at::arange(6, at::kLong).remainder(classes);
      sdk::LossTerms terms;
      sdk::Estimates estimates;
      npmix->loss(record, batch, estimates, model, terms, ctx);
      return terms;
    };
    for (int64_t epoch : {1, 1, 0}) {  // 12 samples fill the 4 x 3 queues; then one step before start_epoch
      sdk::LossTerms terms = step(epoch);
      CHECK(terms.terms().empty());  // waiting: no term (terms are kept by name, so no zero stands in)
      CHECK(ctx.metrics["active"] == 0.0);
    }
    // A copy through the state, not Generator::clone(): LibTorch 1.13's clone leaks the copy (LeakSanitizer).
    at::Generator before = at::make_generator<at::CPUGeneratorImpl>();
    before.set_state(ctx.rng("npmix").get_state());
    sdk::LossTerms terms = step(1);
    REQUIRE(terms.terms().size() == 2);
    CHECK(ctx.metrics["active"] == 1.0);
    at::Tensor queues = buffer(*npmix, "queues");
    CHECK(buffer(*npmix, "counts").min().item<int64_t>() == q);
    a2d::NpmixDraw draw = a2d::draw_npmix(a2d::neighbour_candidates(queues.mean(1), 3), q, 10.0, before);
    nlohmann::json in = {{"kind", "npmix"}, {"queues", to_json(queues)}, {"nn_k", 3}, {"discrepancy", kind},
                         {"draw", {{"first", to_json_long(draw.first)}, {"neighbour", to_json_long(draw.neighbour)},
                                   {"second", to_json_long(draw.second)}, {"lambda", to_json(draw.lambda)}}},
                         {"heads", {linear_json(*fusion, "modality_head_a"), linear_json(*fusion, "modality_head_b")}}};
    const nlohmann::json ref = python_reference(nlohmann::json::array({in}))[0];
    for (int64_t i = 0; i < classes; ++i) {
      std::vector<int64_t> allowed = ref["candidates"][i].get<std::vector<int64_t>>();
      CHECK(std::find(allowed.begin(), allowed.end(), draw.neighbour[i].item<int64_t>()) != allowed.end());
    }
    check_close(a2d::synthesize(queues, draw), from_json(ref["outliers"]), 1e-12, "outliers");
    CHECK(terms.terms()[0].name == "ood_discrepancy");
    CHECK(terms.terms()[0].weight == 0.3);
    CHECK(terms.terms()[1].weight == 0.5);
    check_close(terms.terms()[0].value, at::scalar_tensor(ref["ood_discrepancy"].get<double>(), at::kDouble), 1e-5, "ood_discrepancy");
    check_close(terms.terms()[1].value, at::scalar_tensor(ref["ood_entropy"].get<double>(), at::kDouble), 1e-5, "ood_entropy");
    // Each term trains the modality heads as the reference's do, and never the fused head.
    const std::vector<std::string> heads = {"modality_head_a.weight", "modality_head_a.bias", "modality_head_b.weight",
                                            "modality_head_b.bias"};
    for (size_t t = 0; t < 2; ++t) {
      const std::string name = terms.terms()[t].name;
      CAPTURE(name);
      std::vector<at::Tensor> params = {parameter(*fusion, "head.weight"), parameter(*fusion, "head.bias")};
      for (const auto& h : heads) params.push_back(parameter(*fusion, h));
      const auto grads = torch::autograd::grad({terms.terms()[t].value}, params, {}, true, false, true);
      CHECK(exactly_zero(grads[0]));
      CHECK(exactly_zero(grads[1]));
      for (size_t h = 0; h < heads.size(); ++h) check_close(grads[h + 2], from_json(ref["grads"][name][h]), 1e-5, "d " + name + " / d " + heads[h]);
    }
  }
}

TEST_CASE("a2d.npmix keeps its queues in buffers that a saved module restores") {
  const std::vector<std::pair<std::string, int64_t>> widths = {{"a", 2}, {"b", 2}};
  auto args = component_args("a2d.npmix", widths, 3, {{"queue_size", int64_t{2}}});
  auto first = registry().make_intervention("a2d.npmix", args);
  FusionModel model({"a", "b"}, concat_fusion(widths, 3));
  model.fusion().to(at::kFloat);
  TestContext ctx(&model);
  sdk::ForwardRecord record;
  record.features["a"] = at::randn({5, 2});
  record.features["b"] = at::randn({5, 2});
  sdk::Batch batch;
  batch.label = at::tensor({0, 1, 2, 0, 1}, at::kLong);
  sdk::LossTerms terms;
  first->loss(record, batch, sdk::Estimates(), model, terms, ctx);
  torch::serialize::OutputArchive out;
  first->save(out);
  std::ostringstream bytes;
  out.save_to(bytes);
  auto second = registry().make_intervention("a2d.npmix", args);
  torch::serialize::InputArchive in;
  std::istringstream read(bytes.str());
  in.load_from(read);
  second->load(in);
  CHECK(at::equal(buffer(*second, "queues"), buffer(*first, "queues")));
  CHECK(at::equal(buffer(*second, "counts"), at::tensor({2, 2, 1}, at::kLong)));
  CHECK(buffer(*first, "queues").abs().sum().item<double>() > 0);
}
