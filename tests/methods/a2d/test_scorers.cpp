// a2d's scorers (mahalanobis, knn, gen, vim, react, ash): fitted through fit/finish_fit on training batches
// and scored on test features, they agree with the independent torch reference; they refuse what they cannot
// score (no lent model, a non-affine head for vim, fused features that are not modality blocks).
#include <ATen/ATen.h>
#include <torch/nn/modules/linear.h>

#include "a2d_helpers.hpp"

using namespace a2dtest;

namespace {

const std::vector<std::pair<std::string, int64_t>> kWidths = {{"a", 4}, {"b", 3}};
const int64_t kClasses = 3;

std::shared_ptr<sdk::Scorer> make_scorer(const std::string& type, std::map<std::string, sdk::OptionValue> given = {}) {
  return registry().make_scorer(type, component_args(type, kWidths, kClasses, std::move(given)));
}

/// A record whose fused features are x and whose modality features are x's blocks.
sdk::ForwardRecord record_of(const at::Tensor& x) {
  sdk::ForwardRecord r;
  r.fused = x;
  r.fused_input = x;
  r.features["a"] = x.narrow(1, 0, 4).contiguous();
  r.features["b"] = x.narrow(1, 4, 3).contiguous();
  return r;
}

/// Fits a scorer on x, y in batches of 16, as the host's fitting pass does.
void fit(sdk::Scorer& s, sdk::Context& ctx, const at::Tensor& x, const at::Tensor& y) {
  if (!s.needs_fit()) return;
  for (int64_t i = 0; i < x.size(0); i += 16) {
    const int64_t n = std::min<int64_t>(16, x.size(0) - i);
    sdk::Batch b;
    b.label = y.narrow(0, i, n);
    b.ood = at::zeros({n}, at::kBool);
    s.fit(record_of(x.narrow(0, i, n)), b, ctx);
  }
  s.finish_fit(ctx);
}

/// A fusion whose head is not affine: logits = tanh(W x).
class TanhHeadFusion : public sdk::Fusion {
 public:
  TanhHeadFusion() { linear_ = register_module("linear", torch::nn::Linear(7, kClasses)); }
  int64_t fused_dim() const override { return 7; }
  at::Tensor fuse(const sdk::Features& f, const sdk::AttentionSites&) override { return at::cat({f.at("a"), f.at("b")}, 1); }
  at::Tensor head(const at::Tensor& fused) override { return at::tanh(linear_->forward(fused)); }

 private:
  torch::nn::Linear linear_{nullptr};
};

}  // namespace

TEST_CASE("every a2d scorer agrees with the torch reference") {
  at::manual_seed(21);
  auto fusion = concat_fusion(kWidths, kClasses);
  FusionModel model({"a", "b"}, fusion);
  TestContext ctx(&model, sdk::Phase::Fit);
  at::Tensor y = at::arange(90, at::kLong).remainder(kClasses);
  at::Tensor centres = at::randn({kClasses, 7}, at::kDouble) * 2;
  at::Tensor x = centres.index({y}) + at::randn({90, 7}, at::kDouble) * at::linspace(0.5, 1.5, 7, at::kDouble);
  at::Tensor test = at::cat({centres.index({at::arange(12, at::kLong).remainder(kClasses)}) + at::randn({12, 7}, at::kDouble),
                             at::randn({8, 7}, at::kDouble) * 4});
  at::Tensor w = parameter(*fusion, "head.weight"), b = parameter(*fusion, "head.bias");
  at::Tensor logits = test.mm(w.t()) + b;
  const std::map<std::string, std::map<std::string, sdk::OptionValue>> configs = {
      {"a2d.mahalanobis", {}}, {"a2d.knn", {{"k", int64_t{5}}, {"chunk", int64_t{7}}}}, {"a2d.gen", {}},
      {"a2d.vim", {{"dim", int64_t{3}}}}, {"a2d.react", {}}, {"a2d.ash", {{"percentile", 60.0}}}};
  nlohmann::json in = {{"kind", "scorers"}, {"train", to_json(x)}, {"train_labels", to_json_long(y)}, {"test", to_json(test)},
                       {"weight", to_json(w)}, {"bias", to_json(b)}, {"k", 5}, {"gamma", 0.1}, {"gen_m", 0}, {"vim_dim", 3},
                       {"widths", {4, 3}}, {"react_percentile", 90.0}, {"ash_percentile", 60.0}};
  const nlohmann::json ref = python_reference(nlohmann::json::array({in}))[0];
  for (const auto& [type, options] : configs) {
    CAPTURE(type);
    auto s = make_scorer(type, options);
    fit(*s, ctx, x, y);
    TestContext eval(&model, sdk::Phase::Eval);
    at::Tensor got = s->score(record_of(test), logits, eval);
    check_close(got, from_json(ref[type.substr(4)]), 1e-5, type);
    // A float32 record gives float32 scores (react and ash run the float64 head here).
    if (type != "a2d.react" && type != "a2d.ash") CHECK(s->score(record_of(test.to(at::kFloat)), logits.to(at::kFloat), eval).dtype() == at::kFloat);
  }
}

TEST_CASE("a2d scorers that need training statistics say so and keep them in buffers") {
  for (const std::string type : {"a2d.mahalanobis", "a2d.knn", "a2d.vim", "a2d.react"}) {
    CAPTURE(type);
    auto s = make_scorer(type);
    CHECK(s->needs_fit());
    CHECK_FALSE(s->named_buffers().is_empty());
    FusionModel model({"a", "b"}, concat_fusion(kWidths, kClasses));
    TestContext ctx(&model, sdk::Phase::Eval);
    CHECK(contains(error_of([&] { s->score(record_of(at::randn({2, 7}, at::kDouble)), at::randn({2, 3}, at::kDouble), ctx); }),
                   "has not been fitted"));
  }
  CHECK_FALSE(make_scorer("a2d.gen")->needs_fit());
  CHECK_FALSE(make_scorer("a2d.ash")->needs_fit());
}

TEST_CASE("a2d.gen over the top M classes where M = 0 means all") {
  auto all = make_scorer("a2d.gen"), two = make_scorer("a2d.gen", {{"top_m", int64_t{2}}}), many = make_scorer("a2d.gen", {{"top_m", int64_t{3}}});
  TestContext ctx;
  at::Tensor logits = at::randn({5, 3}, at::kDouble);
  CHECK(at::allclose(all->score({}, logits, ctx), many->score({}, logits, ctx)));
  at::Tensor p = std::get<0>(at::softmax(logits, 1).topk(2, 1));
  CHECK(at::allclose(two->score({}, logits, ctx), -(p.pow(0.1) * (1 - p).pow(0.1)).sum(1)));
  // A confident row scores higher than a flat one.
  at::Tensor rows = at::tensor({9.0, 0.0, 0.0, 0.1, 0.0, 0.0}, at::kDouble).view({2, 3});
  at::Tensor s = all->score({}, rows, ctx);
  CHECK(s[0].item<double>() > s[1].item<double>());
}

TEST_CASE("a2d.vim refuses a head that is not affine and react, ash and vim need a lent model") {
  auto fusion = std::make_shared<TanhHeadFusion>();
  FusionModel model({"a", "b"}, fusion);
  TestContext ctx(&model, sdk::Phase::Fit);
  auto vim = make_scorer("a2d.vim");
  at::Tensor x = at::randn({40, 7}), y = at::arange(40, at::kLong).remainder(kClasses);
  CHECK(contains(error_of([&] { fit(*vim, ctx, x, y); }), "a2d.vim needs an affine fusion head"));
  TestContext no_model(nullptr, sdk::Phase::Fit);
  for (const std::string type : {"a2d.react", "a2d.ash", "a2d.vim"}) {
    CAPTURE(type);
    auto s = make_scorer(type);
    CHECK(contains(error_of([&] {
                     fit(*s, no_model, x, y);
                     s->score(record_of(x), at::randn({40, 3}), no_model);
                   }),
                   type + " needs the host's model"));
  }
}

TEST_CASE("a2d.react and a2d.ash with blocks: modality refuse fused features that are not the modality blocks") {
  FusionModel model({"a", "b"}, concat_fusion(kWidths, kClasses));
  TestContext ctx(&model, sdk::Phase::Eval);
  sdk::ForwardRecord r = record_of(at::randn({4, 7}, at::kDouble));
  r.fused = r.fused * 2;  // e.g. a fusion that transforms its input
  auto ash = make_scorer("a2d.ash");
  CHECK(contains(error_of([&] { ash->score(r, at::randn({4, 3}), ctx); }), "set blocks: whole"));
  auto whole = make_scorer("a2d.ash", {{"blocks", std::string("whole")}});
  CHECK(whole->score(r, at::randn({4, 3}), ctx).size(0) == 4);
}
