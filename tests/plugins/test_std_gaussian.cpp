// std.gaussian: cheap construction, determinism, the knobs measured on large splits, and the two-modality
// logistic theory (optimal weight ratio sigma_2^2 / sigma_1^2) checked by training a model in the test.
#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <ATen/ATen.h>
#include <doctest/doctest.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/lbfgs.h>

#include "mmdebias/core/errors.hpp"
#include "std_helpers.hpp"

using namespace stdtest;

namespace {

using Given = std::map<std::string, sdk::OptionValue>;

/// A std.gaussian dataset for one split, through the registry (not prepared).
std::shared_ptr<sdk::Dataset> gaussian(const std::string& split, Given given = {}, uint64_t run_seed = 0) {
  sdk::BuildArgs a;
  a.name = "data";
  a.split = split;
  a.seed = run_seed;
  a.options = options("std.gaussian", std::move(given));
  return registry().make_dataset("std.gaussian", a);
}

/// A whole prepared split, stacked: inputs per modality [n, width], label, group, ood [n].
struct Split {
  std::vector<at::Tensor> x;
  at::Tensor label, group, ood;
  int64_t size() const { return label.size(0); }
};

Split read_all(sdk::Dataset& ds) {
  const auto info = ds.info();
  const int64_t n = ds.size();
  std::vector<std::vector<at::Tensor>> rows(info.modalities.size());
  std::vector<int64_t> label, group;
  std::vector<uint8_t> ood;
  for (int64_t i = 0; i < n; ++i) {
    auto s = ds.get(i);
    for (size_t m = 0; m < info.modalities.size(); ++m) rows[m].push_back(s.inputs.at(info.modalities[m].name));
    label.push_back(s.label);
    group.push_back(s.group);
    ood.push_back(s.ood ? 1 : 0);
  }
  Split out;
  for (auto& r : rows) out.x.push_back(at::stack(r));
  out.label = at::tensor(label, at::kLong);
  out.group = at::tensor(group, at::kLong);
  out.ood = at::tensor(std::vector<int64_t>(ood.begin(), ood.end()), at::kLong).to(at::kBool);
  return out;
}

/// Within-class residual std of x (one class mean per label value, estimated from the data).
double residual_std(const at::Tensor& x, const at::Tensor& label, int64_t classes) {
  at::Tensor r = at::empty_like(x);
  for (int64_t c = 0; c < classes; ++c) {
    at::Tensor mask = label == c;
    at::Tensor xc = x.index({mask});
    r.index_put_({mask}, xc - xc.mean(0, true));
  }
  return r.std().item<double>();
}

}  // namespace

TEST_CASE("std.gaussian: construction and info() are cheap and generate nothing") {
  // Two billion samples of 8 + 8 floats would need > 100 GB: only a lazy dataset survives this.
  auto ds = gaussian("train", {{"train_size", int64_t{2000000000}}, {"classes", int64_t{5}}, {"ood_classes", int64_t{1}},
                               {"spurious", true}, {"spurious_modality", int64_t{1}}});
  const auto info = ds->info();
  REQUIRE(info.modalities.size() == 2);
  CHECK(info.modalities[0].name == "m0");
  CHECK(info.modalities[1].name == "m1");
  CHECK(info.modalities[0].kind == sdk::InputKind::Dense);
  CHECK(info.modalities[0].shape == std::vector<int64_t>{8});
  CHECK(info.modalities[1].shape == std::vector<int64_t>{8 + 4});
  CHECK(info.num_classes == 4);
  CHECK(info.num_groups == 8);
  CHECK(info.splits == std::vector<std::string>{"train", "val", "test"});
  // Documented: size() is known from the options; get() and fingerprint() need prepare().
  CHECK(ds->size() == 2000000000);
  CHECK_THROWS_AS(ds->get(0), std::logic_error);
  CHECK(contains(error_of([&] { ds->fingerprint(); }), "before prepare()"));

  auto test = gaussian("test", {{"classes", int64_t{5}}, {"ood_classes", int64_t{2}}, {"test_size", int64_t{300}}});
  CHECK(test->size() == 300 + 150);
  CHECK(test->info().num_classes == 3);
  CHECK(test->info().num_groups == 3);
  CHECK(registry().get("std.gaussian").decl.provides == std::vector<std::string>{sdk::capability::kGroups});
}

TEST_CASE("std.gaussian: the same options and seed give the same data; another seed other data") {
  const Given g = {{"spurious", true}, {"classes", int64_t{4}}, {"ood_classes", int64_t{1}}, {"test_size", int64_t{400}}};
  auto a = gaussian("test", g, 11), b = gaussian("test", g, 11), c = gaussian("test", g, 12);
  a->prepare();
  b->prepare();
  c->prepare();
  a->prepare();  // idempotent
  CHECK(a->fingerprint().size() == 16);
  CHECK(a->fingerprint() == b->fingerprint());
  CHECK(a->fingerprint() != c->fingerprint());
  const Split sa = read_all(*a), sb = read_all(*b);
  for (size_t m = 0; m < sa.x.size(); ++m) CHECK(at::equal(sa.x[m], sb.x[m]));
  CHECK(at::equal(sa.label, sb.label));
  CHECK(at::equal(sa.group, sb.group));
  CHECK(at::equal(sa.ood, sb.ood));

  // A fixed data seed ignores the run seed; -1 follows it. Splits differ from each other.
  Given fixed = g;
  fixed["seed"] = int64_t{5};
  auto f1 = gaussian("test", fixed, 1), f2 = gaussian("test", fixed, 2), fv = gaussian("val", fixed, 1);
  f1->prepare();
  f2->prepare();
  fv->prepare();
  CHECK(f1->fingerprint() == f2->fingerprint());
  CHECK(f1->fingerprint() != fv->fingerprint());
  // Options shape the fingerprint even where they leave these draws alone (rho_train does not touch test).
  Given other = fixed;
  other["rho_train"] = 0.5;
  auto fo = gaussian("test", other, 1);
  fo->prepare();
  CHECK(fo->fingerprint() != f1->fingerprint());
}

TEST_CASE("std.gaussian: class means depend on the data seed only and are shared by the modalities") {
  // With zero noise every sample is exactly its class mean.
  const Given g = {{"noise", std::vector<double>{0.0}}, {"modalities", int64_t{3}}, {"classes", int64_t{6}},
                   {"ood_classes", int64_t{2}}, {"train_size", int64_t{200}}, {"test_size", int64_t{100}}};
  auto tr = gaussian("train", g, 3), te = gaussian("test", g, 3);
  tr->prepare();
  te->prepare();
  const Split a = read_all(*tr), b = read_all(*te);
  CHECK(at::equal(a.x[0], a.x[1]));
  CHECK(at::equal(a.x[0], a.x[2]));
  for (int64_t c = 0; c < 4; ++c) {
    at::Tensor ma = a.x[0].index({a.label == c}), mb = b.x[0].index({b.label == c});
    REQUIRE(ma.size(0) > 0);
    REQUIRE(mb.size(0) > 0);
    CHECK(at::equal(ma[0], mb[0]));
    CHECK(at::equal(ma, ma[0].expand_as(ma)));
  }
  // The OOD samples hold exactly the 2 held-out means, none of which is an ID mean.
  at::Tensor ood_rows = std::get<0>(at::unique_dim(b.x[0].index({b.ood}), 0));
  at::Tensor id_rows = std::get<0>(at::unique_dim(a.x[0], 0));
  CHECK(ood_rows.size(0) == 2);
  CHECK(id_rows.size(0) == 4);
  CHECK(at::cdist(ood_rows, id_rows).min().item<double>() > 1e-3);
}

TEST_CASE("std.gaussian: get() from several threads gives what sequential reads give") {
  auto ds = gaussian("train", {{"train_size", int64_t{4000}}}, 9);
  ds->prepare();
  const Split seq = read_all(*ds);
  std::vector<at::Tensor> got(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      std::vector<at::Tensor> rows;
      for (int64_t i = 0; i < ds->size(); ++i) rows.push_back(ds->get(i).inputs.at("m1"));
      got[static_cast<size_t>(t)] = at::stack(rows);
    });
  for (auto& th : threads) th.join();
  for (const auto& x : got) CHECK(at::equal(x, seq.x[1]));
}

TEST_CASE("std.gaussian: spurious attribute agrees with the label at rho_train / rho_test; groups are consistent") {
  const int64_t k = 4, dim = 6;
  const Given g = {{"spurious", true}, {"spurious_modality", int64_t{1}}, {"classes", k}, {"dim", dim},
                   {"rho_train", 0.85}, {"rho_test", 0.15}, {"train_size", int64_t{20000}},
                   {"val_size", int64_t{20000}}, {"test_size", int64_t{20000}}};
  for (const auto& case_ : std::vector<std::pair<std::string, double>>{{"train", 0.85}, {"val", 0.85}, {"test", 0.15}}) {
    const std::string split = case_.first;
    const double rho = case_.second;
    CAPTURE(split);
    auto ds = gaussian(split, g, 21);
    ds->prepare();
    const Split s = read_all(*ds);
    REQUIRE(s.x[1].size(1) == dim + k);
    CHECK(s.x[0].size(1) == dim);
    // The attribute read back from the one-hot dims (scale 1 >> noise 0.1) matches the group's agreement bit.
    at::Tensor b = s.x[1].slice(1, dim).argmax(1);
    at::Tensor agree = b == s.label;
    CHECK(at::equal(s.group, s.label * 2 + agree.to(at::kLong)));
    CHECK(at::equal(at::div(s.group, 2, "floor"), s.label));
    CHECK(s.group.min().item<int64_t>() >= 0);
    CHECK(s.group.max().item<int64_t>() < 2 * k);
    const double rate = agree.to(at::kDouble).mean().item<double>();
    MESSAGE(split << ": spurious agreement " << rate << " (rho " << rho << ")");
    CHECK(std::abs(rate - rho) < 0.02);
    // Disagreeing attributes spread uniformly over the other classes: each offset 1..k-1 about 1/(k-1).
    at::Tensor offset = (b - s.label).remainder(k).index({~agree});
    for (int64_t o = 1; o < k; ++o)
      CHECK(std::abs((offset == o).to(at::kDouble).mean().item<double>() - 1.0 / (k - 1)) < 0.03);
    // Balanced labels.
    CHECK(at::equal(at::bincount(s.label), at::full({k}, 20000 / k, at::kLong)));
    // The spurious dims carry N(0, 0.1^2) around the one-hot.
    at::Tensor resid = s.x[1].slice(1, dim) - at::one_hot(b, k).to(at::kFloat);
    CHECK(std::abs(resid.std().item<double>() - 0.1) < 0.005);
  }
  // Without the spurious attribute the group is the label.
  auto plain = gaussian("train", {{"classes", k}, {"train_size", int64_t{1000}}}, 21);
  plain->prepare();
  const Split s = read_all(*plain);
  CHECK(at::equal(s.group, s.label));
  CHECK(plain->info().num_groups == k);
}

TEST_CASE("std.gaussian: held-out classes never reach train/val and appear only flagged OOD in test") {
  const Given g = {{"classes", int64_t{6}}, {"ood_classes", int64_t{2}}, {"spurious", true},
                   {"train_size", int64_t{6000}}, {"val_size", int64_t{2000}}, {"test_size", int64_t{3000}},
                   {"ood_fraction", 0.4}};
  for (const std::string split : {"train", "val"}) {
    auto ds = gaussian(split, g, 4);
    ds->prepare();
    const Split s = read_all(*ds);
    CHECK(s.ood.sum().item<int64_t>() == 0);
    CHECK(s.label.min().item<int64_t>() == 0);
    CHECK(s.label.max().item<int64_t>() == 3);
  }
  auto ds = gaussian("test", g, 4);
  ds->prepare();
  REQUIRE(ds->size() == 3000 + 1200);
  const Split s = read_all(*ds);
  CHECK(s.ood.sum().item<int64_t>() == 1200);
  CHECK(at::equal(s.ood, s.label == -1));
  CHECK(at::equal(s.ood, s.group == -1));
  at::Tensor id = s.label.index({~s.ood});
  CHECK(id.min().item<int64_t>() == 0);
  CHECK(id.max().item<int64_t>() == 3);
  // ID and OOD samples are interleaved, not appended.
  CHECK(s.ood.slice(0, 0, 2100).sum().item<int64_t>() > 300);
}

TEST_CASE("std.gaussian: per-modality noise std matches sigma_m") {
  const std::vector<double> sigma{0.5, 1.5, 3.0};
  auto ds = gaussian("train", {{"modalities", int64_t{3}}, {"noise", sigma}, {"train_size", int64_t{20000}}}, 8);
  ds->prepare();
  const Split s = read_all(*ds);
  for (size_t m = 0; m < sigma.size(); ++m) {
    const double sd = residual_std(s.x[m], s.label, 4);
    MESSAGE("m" << m << ": noise std " << sd << " (sigma " << sigma[m] << ")");
    CHECK(std::abs(sd / sigma[m] - 1.0) < 0.05);
  }
  // One value broadcasts to every modality.
  auto one = gaussian("train", {{"modalities", int64_t{3}}, {"noise", std::vector<double>{0.7}}, {"train_size", int64_t{8000}}}, 8);
  one->prepare();
  const Split o = read_all(*one);
  for (const auto& x : o.x) CHECK(std::abs(residual_std(x, o.label, 4) / 0.7 - 1.0) < 0.05);
}

TEST_CASE("std.gaussian: refuses inconsistent options with messages naming the numbers") {
  auto msg = error_of([] { gaussian("train", {{"modalities", int64_t{2}}, {"noise", std::vector<double>{1, 2, 3}}}); });
  CHECK(contains(msg, "noise has 3 values but modalities is 2"));
  CHECK_THROWS_AS(gaussian("train", {{"noise", std::vector<double>{1, 2, 3}}}), mmdebias::core::ComponentError);
  msg = error_of([] { gaussian("train", {{"classes", int64_t{3}}, {"ood_classes", int64_t{2}}}); });
  CHECK(contains(msg, "classes 3 with ood_classes 2"));
  msg = error_of([] { gaussian("train", {{"spurious", true}, {"spurious_modality", int64_t{2}}}); });
  CHECK(contains(msg, "spurious_modality 2"));
  CHECK(contains(msg, "modalities is 2"));
  msg = error_of([] { gaussian("holdout"); });
  CHECK(contains(msg, "no split 'holdout'"));
  CHECK_THROWS_AS(options("std.gaussian", {{"modalities", int64_t{17}}}), mmdebias::core::InputError);
  CHECK_THROWS_AS(options("std.gaussian", {{"rho_test", 1.5}}), mmdebias::core::InputError);
  CHECK_THROWS_AS(options("std.gaussian", {{"classes", int64_t{1}}}), mmdebias::core::InputError);
  CHECK_THROWS_AS(options("std.gaussian", {{"noise", std::vector<double>{-1.0}}}), mmdebias::core::InputError);
}

TEST_CASE("std.gaussian: logistic fusion learns the Bayes weight ratio sigma_2^2 / sigma_1^2") {
  auto ds = gaussian("train", {{"classes", int64_t{2}}, {"modalities", int64_t{2}}, {"noise", std::vector<double>{1.0, 2.0}},
                               {"dim", int64_t{4}}, {"train_size", int64_t{20000}}, {"seed", int64_t{2024}}});
  ds->prepare();
  const Split s = read_all(*ds);
  const at::Tensor x0 = s.x[0].to(at::kDouble), x1 = s.x[1].to(at::kDouble), y = s.label.to(at::kDouble);

  // One linear map per modality, outputs summed: logit = w_0 . x_0 + w_1 . x_1 + b; no weight decay.
  torch::nn::Linear l0(torch::nn::LinearOptions(4, 1)), l1(torch::nn::LinearOptions(4, 1).bias(false));
  l0->to(at::kDouble);
  l1->to(at::kDouble);
  std::vector<at::Tensor> params = l0->parameters();
  for (const auto& p : l1->parameters()) params.push_back(p);
  torch::optim::LBFGS opt(params, torch::optim::LBFGSOptions(1.0).max_iter(500).history_size(20).tolerance_grad(1e-10)
                                      .tolerance_change(1e-14).line_search_fn("strong_wolfe"));
  auto closure = [&] {
    opt.zero_grad();
    at::Tensor logit = (l0->forward(x0) + l1->forward(x1)).squeeze(1);
    at::Tensor loss = at::binary_cross_entropy_with_logits(logit, y);
    loss.backward();
    return loss;
  };
  for (int i = 0; i < 5; ++i) opt.step(closure);

  at::Tensor w0 = l0->weight.detach().flatten(), w1 = l1->weight.detach().flatten();
  const double ratio = (w0.norm() / w1.norm()).item<double>();
  const double cosine = (w0.dot(w1) / (w0.norm() * w1.norm())).item<double>();
  MESSAGE("||w_1|| / ||w_2|| = " << ratio << " (theory 4), cos(w_1, w_2) = " << cosine);
  CHECK(std::abs(ratio / 4.0 - 1.0) < 0.10);
  CHECK(cosine > 0.95);  // the class means are shared, so both weights point along mu_1 - mu_0
  // The grad at the optimum is ~0: the LBFGS run converged.
  closure();
  for (const auto& p : params) CHECK(p.grad().abs().max().item<double>() < 1e-6);
}
