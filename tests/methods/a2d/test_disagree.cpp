// a2d.disagree and the discrepancies: the properties methods.md pins (C = 2 gives 0; Hellinger(p, p) = 0,
// disjoint about 1; uniform logits have normalised entropy 1) and agreement, the loss and the gradients of every
// parameter of a model with separate heads, with the torch reference written from MultiOOD (tests/python/a2d_reference.py).
#include <ATen/ATen.h>

#include "../../../plugins/a2d/training/discrepancy.hpp"
#include "a2d_helpers.hpp"

using namespace a2dtest;
namespace a2d = mmdebias::a2d;

namespace {

struct DisagreeRun {
  sdk::LossTerms terms;
  at::Tensor fused;
  std::vector<at::Tensor> modalities;
  at::Tensor loss;
};

/// Runs a2d.disagree on logits [B, C] per modality (leaves requiring grad), backpropagates the host's total.
DisagreeRun run_disagree(const std::vector<at::Tensor>& logits, const at::Tensor& fused, const at::Tensor& labels,
                         std::map<std::string, sdk::OptionValue> options) {
  std::vector<std::pair<std::string, int64_t>> widths;
  std::vector<std::string> names;
  for (size_t i = 0; i < logits.size(); ++i) {
    names.push_back("m" + std::to_string(i));
    widths.emplace_back(names.back(), 3);
  }
  auto component = registry().make_intervention("a2d.disagree", component_args("a2d.disagree", widths, fused.size(1), options));
  FusionModel model(names, concat_fusion(widths, fused.size(1)));
  TestContext ctx(&model);
  DisagreeRun run;
  run.fused = fused.clone().requires_grad_(true);
  sdk::ForwardRecord record;
  record.logits = run.fused;
  for (size_t i = 0; i < logits.size(); ++i) {
    run.modalities.push_back(logits[i].clone().requires_grad_(true));
    record.modality_logits[names[i]] = run.modalities.back();
  }
  sdk::Batch batch;
  batch.label = labels;
  sdk::Estimates estimates;
  component->loss(record, batch, estimates, model, run.terms, ctx);
  run.loss = total_loss(run.terms, run.fused, labels);
  run.loss.backward();
  return run;
}

}  // namespace

TEST_CASE("Hellinger is 0 for equal rows, about 1 for disjoint ones and every discrepancy is 0 for equal rows") {
  at::Tensor p = at::softmax(at::randn({6, 5}, at::kDouble), 1);
  for (const auto& name : a2d::discrepancy_choices()) {
    CAPTURE(name);
    CHECK(std::abs(a2d::discrepancy(a2d::discrepancy_named(name), p, p).item<double>()) < 1e-12);
  }
  at::Tensor a = at::tensor({1.0, 0.0, 0.0, 0.0}, at::kDouble).view({1, 4}), b = at::tensor({0.0, 0.0, 0.5, 0.5}, at::kDouble).view({1, 4});
  // Disjoint supports: 1 up to the 1e-6 clamp of the zeros.
  CHECK(a2d::discrepancy(a2d::Discrepancy::Hellinger, a, b).item<double>() == doctest::Approx(1.0).epsilon(2e-3));
  CHECK(a2d::discrepancy(a2d::Discrepancy::Hellinger, a, b).item<double>() < 1.0);
  // W1 on the index line: mass 1 at 0 against half at 2 and half at 3 travels 2.5.
  CHECK(a2d::discrepancy(a2d::Discrepancy::Wasserstein, a, b).item<double>() == doctest::Approx(2.5));
  CHECK(a2d::discrepancy(a2d::Discrepancy::L1, a, b).item<double>() == doctest::Approx(2.0 / 4));
  CHECK(a2d::discrepancy(a2d::Discrepancy::L2, a, b).item<double>() == doctest::Approx(1.5 / 4));
}

TEST_CASE("uniform logits give normalised entropy 1, a one-hot row about 0") {
  for (int64_t c : {2, 7, 100}) {
    CAPTURE(c);
    CHECK(a2d::normalized_entropy(at::full({3, c}, 4.0, at::kDouble)).min().item<double>() == doctest::Approx(1.0).epsilon(1e-7));
  }
  at::Tensor peaked = at::tensor({60.0, 0.0, 0.0}, at::kDouble).view({1, 3});
  CHECK(a2d::normalized_entropy(peaked).item<double>() < 1e-6);
}

TEST_CASE("with two classes the disagreement term is 0 and the gradients stay finite") {
  at::Tensor labels = at::tensor({0, 1, 1, 0}, at::kLong);
  for (const auto& name : a2d::discrepancy_choices()) {
    CAPTURE(name);
    auto run = run_disagree({at::randn({4, 2}, at::kDouble), at::randn({4, 2}, at::kDouble)}, at::randn({4, 2}, at::kDouble), labels,
                            {{"discrepancy", name}});
    const auto& a2d_term = run.terms.terms().back();
    CHECK(a2d_term.name == "a2d");
    CHECK(a2d_term.value.item<double>() == 0.0);
    for (const auto& v : run.modalities) CHECK(at::isfinite(v.grad()).all().item<bool>());
  }
}

TEST_CASE("a2d.disagree adds the unimodal cross-entropies and -discrepancy with the right weights") {
  at::Tensor labels = at::tensor({0, 2, 1}, at::kLong);
  auto run = run_disagree({at::randn({3, 4}, at::kDouble), at::randn({3, 4}, at::kDouble)}, at::randn({3, 4}, at::kDouble), labels,
                          {{"a2d_ratio", 0.25}});
  CHECK(run.terms.task_weight() == doctest::Approx(1.0 / 3));
  REQUIRE(run.terms.terms().size() == 3);
  CHECK(run.terms.terms()[0].name == "ce_m0");
  CHECK(run.terms.terms()[0].weight == doctest::Approx(1.0 / 3));
  CHECK(run.terms.terms()[2].weight == 0.25);
  CHECK(run.terms.terms()[2].value.item<double>() < 0.0);  // -discrepancy: different rows disagree
  auto fused_only = run_disagree({at::randn({3, 4}, at::kDouble), at::randn({3, 4}, at::kDouble)}, at::randn({3, 4}, at::kDouble),
                                 labels, {{"unimodal_ce", false}});
  CHECK(fused_only.terms.task_weight() == 1.0);
  CHECK(fused_only.terms.terms().size() == 1);
}

TEST_CASE("a2d.disagree on a model with separate heads agrees with the torch reference: loss and every gradient") {
  at::manual_seed(11);
  nlohmann::json cases = nlohmann::json::array();
  std::vector<ModelStep> steps;
  for (int modalities : {2, 3}) {
    for (const auto& name : a2d::discrepancy_choices()) {
      for (bool unimodal : {true, false}) {
        const int64_t b = 7, c = 5;
        std::vector<std::pair<std::string, int64_t>> widths;
        for (int m = 0; m < modalities; ++m) widths.emplace_back("m" + std::to_string(m), 3 + m);
        const at::Tensor labels = at::randint(c, {b}, at::kLong);
        steps.push_back(disagree_step(widths, c, labels, {{"discrepancy", name}, {"a2d_ratio", 0.7}, {"unimodal_ce", unimodal}}));
        ModelStep& step = steps.back();
        step.loss.backward();
        nlohmann::json in = {{"kind", "disagree"}, {"labels", to_json_long(labels)}, {"discrepancy", name}, {"ratio", 0.7},
                             {"unimodal_ce", unimodal}, {"fused_head", linear_json(*step.fusion, "head")}};
        for (const auto& [m, width] : widths) {
          in["features"].push_back(to_json(step.features.at(m)));
          in["heads"].push_back(linear_json(*step.fusion, "modality_head_" + m));
        }
        cases.push_back(in);
      }
    }
  }
  const nlohmann::json refs = python_reference(cases);
  REQUIRE(refs.size() == steps.size());
  for (size_t i = 0; i < steps.size(); ++i) {
    const ModelStep& step = steps[i];
    const auto& ref = refs[i];
    CAPTURE(cases[i]["discrepancy"].get<std::string>());
    CAPTURE(step.names.size());
    CAPTURE(cases[i]["unimodal_ce"].get<bool>());
    check_close(step.loss, at::scalar_tensor(ref["loss"].get<double>(), at::kDouble), 1e-5, "loss");
    check_close(-step.terms.terms().back().value, at::scalar_tensor(ref["discrepancy"].get<double>(), at::kDouble), 1e-5, "discrepancy");
    check_close(parameter(*step.fusion, "head.weight").grad(), from_json(ref["grad_fused_weight"]), 1e-5, "d loss / d fused W");
    check_close(parameter(*step.fusion, "head.bias").grad(), from_json(ref["grad_fused_bias"]), 1e-5, "d loss / d fused b");
    for (size_t m = 0; m < step.names.size(); ++m) {
      const std::string head = "modality_head_" + step.names[m];
      check_close(parameter(*step.fusion, head + ".weight").grad(), from_json(ref["grad_head_weights"][m]), 1e-5, "d loss / d W_m");
      check_close(parameter(*step.fusion, head + ".bias").grad(), from_json(ref["grad_head_biases"][m]), 1e-5, "d loss / d b_m");
      check_close(step.features.at(step.names[m]).grad(), from_json(ref["grad_features"][m]), 1e-5, "d loss / d z_m");
    }
  }
}

TEST_CASE("a2d.disagree is declared with its capability and refuses bad options") {
  const auto& decl = registry().get("a2d.disagree").decl;
  CHECK(decl.needs == std::vector<std::string>{"modality_logits", "independent_modality_heads"});
  CHECK_THROWS(stdtest::options("a2d.disagree", {{"discrepancy", std::string("kl")}}));
  CHECK_THROWS(stdtest::options("a2d.disagree", {{"a2d_ratio", -0.1}}));
  CHECK(contains(error_of([] { registry().make_intervention("a2d.disagree", component_args("a2d.disagree", {{"a", 2}, {"b", 2}}, 1)); }),
                 "needs at least 2 classes"));
}

TEST_CASE("a rank left without samples adds no a2d.disagree term (terms are kept by name)") {
  auto run = run_disagree({at::randn({0, 4}, at::kDouble), at::randn({0, 4}, at::kDouble)}, at::randn({0, 4}, at::kDouble),
                          at::empty({0}, at::kLong), {});
  CHECK(run.terms.terms().empty());
  CHECK(run.terms.task_weight() == doctest::Approx(1.0 / 3));  // the same objective's weights on every rank
}

TEST_CASE("drop_ground_truth (a gather, no host read) equals selecting the kept columns with a mask: values and gradients") {
  at::manual_seed(5);
  for (int64_t classes : {2, 3, 7}) {
    CAPTURE(classes);
    const int64_t rows = 9;
    const at::Tensor labels = at::randint(classes, {rows}, at::kLong);
    const at::Tensor x = at::randn({rows, classes}, at::kDouble).requires_grad_(true);
    const at::Tensor y = x.detach().clone().requires_grad_(true);
    // The former implementation: a boolean mask without each row's label column, masked_select.
    at::Tensor keep = at::ones({rows, classes}, at::kBool);
    keep.scatter_(1, labels.view({rows, 1}), false);
    const at::Tensor expected = y.masked_select(keep).view({rows, classes - 1});
    const at::Tensor got = a2d::drop_ground_truth(x, labels);
    CHECK(at::equal(got, expected));
    const at::Tensor weights = at::randn({rows, classes - 1}, at::kDouble);
    (got * weights).sum().backward();
    (expected * weights).sum().backward();
    CHECK(at::equal(x.grad(), y.grad()));
  }
}
