// a2d under run.precision=bf16: the discrepancies, the softmax and NP-Mix's entropy are computed in fp32 whatever the
// precision (equal to the fp32 run on inputs bf16 holds exactly, while the same formulas in bf16 are measurably off);
// a2d.npmix's loss hook stays within bf16's rounding of the fp32 run; every scorer fitted and scored under bf16
// autocast gives fp32 scores that match the fp32 run's.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "a2d_helpers.hpp"
#include "methods/precision_checks.hpp"
#include "mmdebias/sdk/precision.hpp"

#include "../../../plugins/a2d/training/discrepancy.hpp"

using namespace a2dtest;
using prectest::relative_error;
namespace a2d = mmdebias::a2d;

namespace {

/// Hellinger as written before the fp32 guard, in its inputs' dtype (bf16 logits give bf16 throughout).
at::Tensor hellinger_in_input_dtype(const at::Tensor& v, const at::Tensor& f) {
  const at::Tensor p = at::softmax(v, 1), q = at::softmax(f, 1);
  const at::Tensor d = at::sqrt(p.clamp_min(1e-6)) - at::sqrt(q.clamp_min(1e-6));
  return (a2d::safe_sqrt((d * d).sum(1)) / std::sqrt(2.0)).mean();
}

/// The normalised entropy as written before the fp32 guard, in its input's dtype.
at::Tensor entropy_in_input_dtype(const at::Tensor& logits) {
  const at::Tensor p = at::softmax(logits, 1);
  return (-(p * at::log(p + 1e-9)).sum(1) / std::log(static_cast<double>(logits.size(1)))).mean();
}

/// A std.concat fusion in fp32 over the given pooled widths, with bf16-exact head parameters.
std::shared_ptr<sdk::Fusion> float_concat(const std::vector<std::pair<std::string, int64_t>>& widths, int64_t classes) {
  std::vector<std::pair<std::string, sdk::FeatureSpec>> specs;
  int64_t dim = 0;
  for (const auto& [name, d] : widths) {
    specs.emplace_back(name, stdtest::pooled(d));
    dim += d;
  }
  auto fusion = stdtest::make_fusion("std.concat", specs, classes);
  at::NoGradGuard no_grad;
  parameter(*fusion, "head.weight").copy_(prectest::seeded({classes, dim}, 31, 0.7));
  parameter(*fusion, "head.bias").copy_(prectest::seeded({classes}, 32, 0.3));
  return fusion;
}

const std::vector<std::pair<std::string, int64_t>> kWidths = {{"a", 4}, {"b", 3}};
const int64_t kClasses = 3;

/// A record whose fused features are x and whose modality features are x's blocks (widths 4 and 3).
sdk::ForwardRecord record_of(const at::Tensor& x) {
  sdk::ForwardRecord r;
  r.fused = r.fused_input = x;
  r.features["a"] = x.narrow(1, 0, 4).contiguous();
  r.features["b"] = x.narrow(1, 4, 3).contiguous();
  return r;
}

/// Each scorer fitted on (x, y) in batches of 16 and scored on test, as the host runs them: under bf16 autocast with
/// bf16 fused features when bf16 (the logits a scorer gets are bf16 too, as an adjusting predict hook may give them).
std::map<std::string, at::Tensor> scores(bool bf16) {
  const at::Tensor y = at::arange(90, at::kLong).remainder(kClasses);
  const at::Tensor centres = prectest::seeded({kClasses, 7}, 22, 2.0);
  const at::Tensor x = (centres.index({y}) + prectest::seeded({90, 7}, 23)).to(at::kBFloat16).to(at::kFloat);
  const at::Tensor test = at::cat({centres.index({at::arange(12, at::kLong).remainder(kClasses)}) + prectest::seeded({12, 7}, 24),
                                   prectest::seeded({8, 7}, 25, 4.0)}).to(at::kBFloat16).to(at::kFloat);
  auto fusion = float_concat(kWidths, kClasses);
  FusionModel model({"a", "b"}, fusion);
  const at::Tensor logits = (test.mm(parameter(*fusion, "head.weight").t()) + parameter(*fusion, "head.bias")).detach()
                                .to(at::kBFloat16).to(at::kFloat);
  const at::ScalarType dtype = bf16 ? at::kBFloat16 : at::kFloat;
  const std::map<std::string, std::map<std::string, sdk::OptionValue>> configs = {
      {"a2d.mahalanobis", {}}, {"a2d.knn", {{"k", int64_t{5}}, {"chunk", int64_t{7}}}}, {"a2d.gen", {}},
      {"a2d.vim", {{"dim", int64_t{3}}}}, {"a2d.react", {}}, {"a2d.ash", {{"percentile", 60.0}}},
      {"std.msp", {}}, {"std.energy", {}}, {"std.maxlogit", {}}};
  std::map<std::string, at::Tensor> out;
  for (const auto& [type, options] : configs) {
    auto s = registry().make_scorer(type, component_args(type, kWidths, kClasses, options));
    std::optional<prectest::Bf16> autocast;
    if (bf16) autocast.emplace();
    TestContext fit_ctx(&model, sdk::Phase::Fit), eval(&model, sdk::Phase::Eval);
    if (s->needs_fit()) {
      for (int64_t i = 0; i < x.size(0); i += 16) {
        const int64_t n = std::min<int64_t>(16, x.size(0) - i);
        sdk::Batch b;
        b.label = y.narrow(0, i, n);
        b.ood = at::zeros({n}, at::kBool);
        s->fit(record_of(x.narrow(0, i, n).to(dtype)), b, fit_ctx);
      }
      s->finish_fit(fit_ctx);
    }
    out[type] = s->score(record_of(test.to(dtype)), logits.to(dtype), eval);
  }
  return out;
}

}  // namespace

TEST_CASE("the discrepancies and the normalised entropy of bf16 logits under bf16 autocast are fp32 and equal fp32's") {
  const at::Tensor v = prectest::seeded({64, 6}, 1, 2.0), f = prectest::seeded({64, 6}, 2, 2.0);
  at::Tensor v32 = v.clone().requires_grad_(true), v16 = v.clone().requires_grad_(true);
  const at::Tensor h32 = a2d::mean_pairwise_discrepancy(a2d::Discrepancy::Hellinger, {a2d::probabilities(v32), a2d::probabilities(f)});
  const at::Tensor e32 = a2d::normalized_entropy(v32).mean();
  (h32 + e32).backward();
  at::Tensor h16, e16, h_bf16, e_bf16;
  std::map<a2d::Discrepancy, std::pair<at::Tensor, at::Tensor>> others;  // kind -> (fp32, under bf16 autocast)
  {
    prectest::Bf16 autocast;
    const at::Tensor vb = v16.to(at::kBFloat16), fb = f.to(at::kBFloat16);
    h16 = a2d::mean_pairwise_discrepancy(a2d::Discrepancy::Hellinger, {a2d::probabilities(vb), a2d::probabilities(fb)});
    e16 = a2d::normalized_entropy(vb).mean();
    h_bf16 = hellinger_in_input_dtype(vb.detach(), fb);
    e_bf16 = entropy_in_input_dtype(vb.detach());
    for (auto kind : {a2d::Discrepancy::L1, a2d::Discrepancy::L2, a2d::Discrepancy::Wasserstein})
      others[kind].second = a2d::discrepancy(kind, a2d::probabilities(vb.detach()), a2d::probabilities(fb));
  }
  for (auto& [kind, pair] : others) pair.first = a2d::discrepancy(kind, a2d::probabilities(v), a2d::probabilities(f));
  (h16 + e16).backward();
  CHECK((h16.scalar_type() == at::kFloat));
  CHECK((e16.scalar_type() == at::kFloat));
  const double h = relative_error(h16, h32), e = relative_error(e16, e32), grad = relative_error(v16.grad(), v32.grad());
  const double h_off = relative_error(h_bf16, h32), e_off = relative_error(e_bf16, e32);
  MESSAGE("Hellinger " << h << ", entropy " << e << ", gradient " << grad << "; in bf16: Hellinger " << h_off << ", entropy " << e_off);
  CHECK(h <= 1e-5);     // the same fp32 ops on the same values: fp32 rounding only
  CHECK(e <= 1e-5);
  CHECK(grad <= 4e-3);  // the gradient of a bf16 tensor is rounded to bf16 once: <= 2^-9 per element
  // Teeth: computed in bf16 (softmax, square roots, logs and sums rounded to 8 bits) both miss by over 100x the
  // tolerance (measured 2.6e-3 and 2.3e-3).
  CHECK(h_off >= 1e-3);
  CHECK(e_off >= 1e-3);
  for (const auto& [kind, pair] : others) {
    CAPTURE(static_cast<int>(kind));
    CHECK((pair.second.scalar_type() == at::kFloat));
    CHECK(relative_error(pair.second, pair.first) <= 1e-5);
  }
}

TEST_CASE("a2d.npmix's loss hook under bf16 autocast: fp32 terms within bf16's rounding of the fp32 run") {
  const int64_t classes = 4, q = 3;
  const std::vector<std::pair<std::string, int64_t>> widths = {{"a", 5}, {"b", 4}};
  auto run = [&](bool bf16) {
    auto fusion = float_concat(widths, classes);
    FusionModel model({"a", "b"}, fusion);
    auto npmix = registry().make_intervention(
        "a2d.npmix", component_args("a2d.npmix", widths, classes, {{"queue_size", q}, {"start_epoch", int64_t{0}}}));
    TestContext ctx(&model);
    std::vector<sdk::LossTerm> terms;
    for (int64_t step = 0; step < 4; ++step) {  // 3 steps of 4 samples fill the 4 x 3 queues; the 4th makes outliers
      std::optional<prectest::Bf16> autocast;
      if (bf16) autocast.emplace();
      const at::Tensor labels = at::arange(4, at::kLong);
      const at::Tensor shift = labels.to(at::kFloat).view({4, 1});
      sdk::ForwardRecord record;
      record.features["a"] = (prectest::seeded({4, 5}, 40 + step) + shift).to(bf16 ? at::kBFloat16 : at::kFloat);
      record.features["b"] = (prectest::seeded({4, 4}, 50 + step) - shift).to(bf16 ? at::kBFloat16 : at::kFloat);
      sdk::Batch batch;
      batch.label = labels;
      sdk::LossTerms t;
      npmix->loss(record, batch, sdk::Estimates(), model, t, ctx);
      terms = t.terms();
    }
    REQUIRE(terms.size() == 2);
    (terms[0].weight * terms[0].value + terms[1].weight * terms[1].value).backward();
    return std::make_pair(terms, parameter(*fusion, "head.weight").grad().clone());
  };
  const auto [t32, g32] = run(false);
  const auto [t16, g16] = run(true);
  for (size_t i = 0; i < 2; ++i) {
    CAPTURE(t16[i].name);
    CHECK((t16[i].value.scalar_type() == at::kFloat));
    const double error = relative_error(t16[i].value, t32[i].value);
    MESSAGE(t16[i].name << ": value " << error);
    // The outliers are rounded to bf16 and the modality heads run in bf16, as in the forward: a few roundings of at
    // most 2^-9 reach the terms, and the Hellinger of nearly agreeing heads amplifies them (measured 6e-3).
    CHECK(error <= 2e-2);
  }
  const double grad = relative_error(g16, g32);
  MESSAGE("head gradient " << grad);
  CHECK(grad <= 5e-2);  // the heads' bf16 outputs and the bf16 backward of their matmuls (measured 1.6e-2)
}

TEST_CASE("every scorer fitted and scored under bf16 autocast gives fp32 scores that match the fp32 run's") {
  const auto f32 = scores(false);
  const auto b16 = scores(true);
  for (const auto& [type, got] : b16) {
    CAPTURE(type);
    CHECK((got.scalar_type() == at::kFloat));
    const double error = relative_error(got, f32.at(type));
    MESSAGE(type << ": " << error);
    if (type == "a2d.react" || type == "a2d.ash") {
      CHECK(error <= 1e-2);  // they re-run the fusion head, in bf16 as the forward does: its logits carry 2^-9 roundings
    } else {
      // The same bf16-exact features and logits, with statistics, search and softmax in fp32/fp64: fp32 rounding only
      // (a bf16 score alone would be off by up to 2^-9 = 2e-3).
      CHECK(error <= 1e-5);
    }
  }
}
