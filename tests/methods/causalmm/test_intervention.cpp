// causalmm.counterfactual_attention through the real loader on a tiny two-site model: which sites each pass
// overrides, that intervening at a site changes the output only through that site (a bypassed site changes
// nothing), the prediction from the recorded passes, K-sample averaging, the metrics, the training term, and
// the refusals of sites the model does not have.
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <doctest/doctest.h>

#include "causalmm_support.hpp"

using namespace cmmtest;

namespace {

const std::string kFusionSite = "fusion.layer0", kEncoderSite = "encoders.a.layer0";

/// Runs predict once on a fresh batch: the factual pass first (recorded as passes[0]), then the hook.
at::Tensor predict(sdk::Intervention& iv, TinyModel& model, RecordingContext& ctx, int64_t B = 6) {
  sdk::Batch b = model.batch(B);
  sdk::ForwardRecord record = model.forward(b, sdk::AttentionSites{});
  return iv.predict(record, record.logits, b, sdk::Estimates{}, model, ctx);
}

/// (1 + nγ)·l − γ·Σ_levels mean_k l_cf written out from the recorded passes (levels in order, k passes each).
at::Tensor expected_contrast(const TinyModel& model, int levels, int per_level, double gamma) {
  at::Tensor l = model.passes[0].record.logits;
  at::Tensor s = (1 + levels * gamma) * l;
  for (int v = 0; v < levels; ++v) {
    at::Tensor mean = at::zeros_like(l);
    for (int k = 0; k < per_level; ++k) mean = mean + model.passes[1 + v * per_level + k].record.logits;
    s = s - gamma * mean / per_level;
  }
  return s;
}

}  // namespace

TEST_CASE("one counterfactual pass per level, each overriding exactly that level's sites") {
  torch::NoGradGuard no_grad;
  TinyModel model;
  auto iv = make_intervention(model.all_sites(), {{"epsilon", 0.0}});
  CHECK(iv->hooks() == sdk::kPredict);
  CHECK(iv->claimed_sites() == std::vector<std::string>{kEncoderSite, kFusionSite});
  RecordingContext ctx;
  at::Tensor s = predict(*iv, model, ctx);
  REQUIRE(model.passes.size() == 3);  // factual + encoder level + fusion level (uniform: one map each)
  CHECK(model.passes[1].overridden == std::vector<std::string>{kEncoderSite});
  CHECK(model.passes[2].overridden == std::vector<std::string>{kFusionSite});
  CHECK(at::allclose(s, expected_contrast(model, 2, 1, 1.0), 1e-6, 1e-6));
  CHECK(ctx.metrics.count("ace/" + kEncoderSite) == 1);
  CHECK(ctx.metrics.at("ace/" + kFusionSite).at(0) > 0);
  CHECK(ctx.metrics.count("changed") == 1);
}

TEST_CASE("intervening at the fusion site changes the output only through that site") {
  torch::NoGradGuard no_grad;
  TinyModel model;
  auto iv = make_intervention(model.all_sites(), {{"sites", std::vector<std::string>{"fusion.*"}}, {"edit", std::string("shuffle_keys")}});
  CHECK(iv->claimed_sites() == std::vector<std::string>{kFusionSite});
  RecordingContext ctx;
  predict(*iv, model, ctx);
  REQUIRE(model.passes.size() == 2);
  const auto& factual = model.passes[0].record;
  const auto& counterfactual = model.passes[1].record;
  // Upstream of the site nothing moved: the encoder's attention and features are bitwise the factual ones.
  CHECK(at::equal(counterfactual.attention.at(kEncoderSite), factual.attention.at(kEncoderSite)));
  CHECK(at::equal(counterfactual.features.at("a"), factual.features.at("a")));
  // At the site the map is a permutation of the factual one, and the output moved.
  CHECK_FALSE(at::equal(counterfactual.attention.at(kFusionSite), factual.attention.at(kFusionSite)));
  CHECK(at::equal(std::get<0>(counterfactual.attention.at(kFusionSite).sort(-1)), std::get<0>(factual.attention.at(kFusionSite).sort(-1))));
  CHECK_FALSE(at::allclose(counterfactual.logits, factual.logits));
}

TEST_CASE("a model whose claimed site is bypassed is unaffected: the prediction is the factual logits") {
  torch::NoGradGuard no_grad;
  TinyModel model(/*fusion_site_enabled=*/false);
  auto iv = make_intervention(model.all_sites(), {{"sites", std::vector<std::string>{kFusionSite}}, {"edit", std::string("random")},
                                                  {"gamma", 1.0}, {"epsilon", 0.0}, {"samples", int64_t{2}}});
  RecordingContext ctx;
  at::Tensor s = predict(*iv, model, ctx);
  REQUIRE(model.passes.size() == 3);  // K = 2: the mean of two equal tensors is exact, so equality is bitwise
  CHECK(at::equal(s, model.passes[0].record.logits));
  CHECK(ctx.metrics.at("ace/" + kFusionSite).at(0) == 0.0);
  CHECK(ctx.metrics.at("changed").at(0) == 0.0);
}

TEST_CASE("backdoor adjustment: K random maps per level are drawn afresh and their logits averaged") {
  torch::NoGradGuard no_grad;
  TinyModel model;
  auto iv = make_intervention(model.all_sites(), {{"edit", std::string("random")}, {"samples", int64_t{3}}, {"gamma", 0.5}, {"epsilon", 0.0}});
  RecordingContext ctx;
  at::Tensor s = predict(*iv, model, ctx);
  REQUIRE(model.passes.size() == 1 + 2 * 3);
  CHECK(at::allclose(s, expected_contrast(model, 2, 3, 0.5), 1e-6, 1e-6));
  CHECK_FALSE(at::equal(model.passes[1].record.attention.at(kEncoderSite), model.passes[2].record.attention.at(kEncoderSite)));
  // Reproducible from the context's stream: the same seed gives the same prediction, another seed another.
  auto again = [&](uint64_t seed) {
    RecordingContext c(seed);
    auto fresh = make_intervention(model.all_sites(), {{"edit", std::string("random")}, {"samples", int64_t{3}}, {"gamma", 0.5}, {"epsilon", 0.0}});
    return predict(*fresh, model, c);
  };
  CHECK(at::equal(again(7), s));  // 7: RecordingContext's default seed
  CHECK_FALSE(at::equal(again(8), s));
}

TEST_CASE("deterministic edits run one pass per level whatever K (levels component, site and all)") {
  torch::NoGradGuard no_grad;
  for (const auto& [levels, expected_passes] : std::vector<std::pair<std::string, size_t>>{{"component", 3}, {"site", 3}, {"all", 2}}) {
    INFO("levels " << levels);
    TinyModel model;
    auto iv = make_intervention(model.all_sites(), {{"edit", std::string("reversed")}, {"samples", int64_t{4}}, {"levels", levels}});
    RecordingContext ctx;
    predict(*iv, model, ctx);
    // levels=all: one level of two sites, so the per-site effects need one extra pass each.
    CHECK(model.passes.size() == expected_passes + (levels == "all" ? 2 : 0));
    if (levels == "all") {
      CHECK(model.passes[1].overridden == std::vector<std::string>{kEncoderSite, kFusionSite});
      CHECK(ctx.metrics.count("ace_level/all") == 1);
      CHECK(ctx.metrics.count("ace/" + kEncoderSite) == 1);
    }
  }
}

TEST_CASE("the training term is CE((1 + nγ)·l − γ·Σ l_cf, y) and trains through the counterfactual pass") {
  TinyModel model;
  auto off = make_intervention(model.all_sites());
  CHECK((off->hooks() & sdk::kLoss) == 0);
  auto iv = make_intervention(model.all_sites(), {{"loss_weight", 0.3}, {"gamma", 0.5}});
  CHECK((iv->hooks() & sdk::kLoss) != 0);
  sdk::Batch b = model.batch(6);
  sdk::ForwardRecord record = model.forward(b, sdk::AttentionSites{});
  RecordingContext ctx(7, sdk::Phase::Train);
  sdk::LossTerms terms;
  iv->loss(record, b, sdk::Estimates{}, model, terms, ctx);
  REQUIRE(terms.terms().size() == 1);
  const auto& term = terms.terms()[0];
  CHECK(term.name == "contrast_ce");
  CHECK(term.weight == doctest::Approx(0.3));
  at::Tensor s = expected_contrast(model, 2, 1, 0.5);
  CHECK(term.value.item<double>() == doctest::Approx(at::cross_entropy_loss(s, b.label).item<double>()).epsilon(1e-6));
  CHECK(model.passes[1].record.logits.requires_grad());  // the counterfactual pass is part of the graph
  term.value.backward();
  check_all_grads(model.fusion());
  check_all_grads(model.encoder("a"));
}

TEST_CASE("sites are chosen by name or pattern and unknown ones are refused with the model's sites listed") {
  TinyModel model;
  CHECK(make_intervention(model.all_sites(), {{"sites", std::vector<std::string>{"encoders.*"}}})->claimed_sites() ==
        std::vector<std::string>{kEncoderSite});
  CHECK(make_intervention(model.all_sites(), {{"sites", std::vector<std::string>{"*.layer?", kFusionSite}}})->claimed_sites().size() == 2);
  std::string e = error_of([&] { make_intervention(model.all_sites(), {{"sites", std::vector<std::string>{"encoders.text.*"}}}); });
  CHECK(contains(e, "causalmm.counterfactual_attention"));
  CHECK(contains(e, "'encoders.text.*' matches none of the model's attention sites (encoders.a.layer0, fusion.layer0)"));
  e = error_of([&] { make_intervention({}, {}); });
  CHECK(contains(e, "the model has no attention sites"));
  e = error_of([&] { make_intervention(model.all_sites(), {{"sites", std::vector<std::string>{}}}); });
  CHECK(contains(e, "option 'sites' is empty"));
  const auto& decl = registry().get("causalmm.counterfactual_attention").decl;
  CHECK(decl.needs == std::vector<std::string>{sdk::capability::kAttentionSites});
}

TEST_CASE("the what-if sweep draws from its own stream: the configured prediction is the same with or without it") {
  torch::NoGradGuard no_grad;
  TinyModel model;
  const std::map<std::string, sdk::OptionValue> base = {{"edit", std::string("random")}, {"epsilon", 0.0}};
  auto with_sweep = base;
  with_sweep["sweep_edits"] = std::vector<std::string>{"random", "shuffle"};
  with_sweep["sweep_gammas"] = std::vector<double>{0.0, 1.0};
  with_sweep["sweep_epsilons"] = std::vector<double>{0.1};
  RecordingContext plain_ctx, sweep_ctx;
  at::Tensor plain = predict(*make_intervention(model.all_sites(), base), model, plain_ctx);
  at::Tensor swept = predict(*make_intervention(model.all_sites(), with_sweep), model, sweep_ctx);
  CHECK(at::equal(plain, swept));
  CHECK(plain_ctx.metrics.count("sweep/count") == 0);
  // gamma 0 keeps the factual arg-max, so its correct count is the factual one.
  const sdk::Batch b = model.batch(6);
  const double factual_correct = model.passes[0].record.logits.argmax(-1).eq(b.label).sum().item<double>();
  CHECK(sweep_ctx.metrics.at("sweep/random/g0/e0.1/correct").at(0) == factual_correct);
  CHECK(sweep_ctx.metrics.at("sweep/count").at(0) == 6.0);
  CHECK(error_of([&] { make_intervention(model.all_sites(), {{"sweep_edits", std::vector<std::string>{"random"}}}); })
            .find("'sweep_edits' needs 'sweep_gammas' and 'sweep_epsilons'") != std::string::npos);
}

TEST_CASE("a rank left without samples adds no training term and runs no counterfactual pass") {
  TinyModel model;
  auto iv = make_intervention(model.all_sites(), {{"loss_weight", 0.3}});
  sdk::Batch b = model.batch(6);
  sdk::ForwardRecord record = model.forward(b, sdk::AttentionSites{});
  const size_t passes = model.passes.size();
  sdk::Batch empty = b;
  for (auto& [name, t] : empty.inputs) t = t.narrow(0, 0, 0);
  for (at::Tensor* t : {&empty.label, &empty.group, &empty.environment, &empty.ood, &empty.index})
    if (t->defined()) *t = t->narrow(0, 0, 0);
  RecordingContext ctx(7, sdk::Phase::Train);
  sdk::LossTerms terms;
  iv->loss(record, empty, sdk::Estimates{}, model, terms, ctx);
  CHECK(terms.terms().empty());  // terms are kept by name: no zero stand-in
  CHECK(model.passes.size() == passes);
}
