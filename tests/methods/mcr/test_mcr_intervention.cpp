// mcr.competition through the real loader: its declaration and option errors, the loss terms it adds
// (named, weighted, equal to the plugin's functions on the permutations its RNG stream draws), and
// reproducibility of the draws from the stream.
#include <memory>
#include <string>

#include <ATen/ATen.h>

#include "mcr_helpers.hpp"

#include <doctest/doctest.h>

#include "mmdebias/core/errors.hpp"

using namespace mcrtest;

namespace {

/// The host's model as the loss hook sees it: the tiny model's fusion.
class TinyHostModel : public sdk::Model {
 public:
  explicit TinyHostModel(TinyModel& m) : m_(m) {}
  const std::vector<std::string>& modalities() const override { return names_; }
  sdk::Encoder& encoder(const std::string&) override { throw std::logic_error("not needed"); }
  sdk::Fusion& fusion() override { return *m_.fusion; }
  sdk::ForwardRecord forward(const sdk::Batch&, const sdk::AttentionSites&) override { throw std::logic_error("not needed"); }

 private:
  TinyModel& m_;
  std::vector<std::string> names_{"a", "v"};
};

sdk::BuildArgs competition_args(std::map<std::string, sdk::OptionValue> given, int64_t dim_a = TinyModel::kDim,
                                int64_t dim_v = TinyModel::kDim) {
  sdk::BuildArgs a;
  a.name = "interventions.competition";
  a.model.features = {{"a", stdtest::pooled(dim_a)}, {"v", stdtest::pooled(dim_v)}};
  a.model.num_classes = TinyModel::kClasses;
  a.options = stdtest::options("mcr.competition", std::move(given));
  return a;
}

std::shared_ptr<sdk::Intervention> competition(std::map<std::string, sdk::OptionValue> given = {}) {
  return stdtest::registry().make_intervention("mcr.competition", competition_args(std::move(given)));
}

/// The forward record of the tiny model on its batch.
sdk::ForwardRecord record_of(TinyModel& m) {
  sdk::ForwardRecord r;
  r.features = m.features();
  r.logits = m.base(r.features);
  for (const auto& [name, z] : r.features) r.modality_logits[name] = m.fusion->modality_head(name, z);
  return r;
}

sdk::Batch batch_of(const TinyModel& m) {
  sdk::Batch b;
  b.label = m.labels;
  return b;
}

}  // namespace

TEST_CASE("mcr.competition is declared with its options, defaults and the modality_logits need") {
  const auto& entry = stdtest::registry().get("mcr.competition");
  CHECK(entry.decl.needs == std::vector<std::string>{"modality_logits"});
  const auto o = stdtest::options("mcr.competition");
  CHECK(o.string("game") == "greedy");
  CHECK(o.number("l") == 0.1);
  CHECK(o.integer("num_samples") == 32);
  CHECK(o.string("shuffle") == "rand");
  CHECK(o.number("multil") == 0.01);
  CHECK(o.number("contr_coeff") == 1.0);
  CHECK(o.number("temperature") == 0.5);
  CHECK(o.number("lib") == 0.0);
}

TEST_CASE("mcr.competition refuses bad options and models it cannot serve, saying why") {
  using mmdebias::core::InputError;
  CHECK_THROWS_AS(stdtest::options("mcr.competition", {{"game", std::string("cooperative")}}), InputError);
  CHECK_THROWS_AS(stdtest::options("mcr.competition", {{"l", -0.1}}), InputError);
  CHECK_THROWS_AS(stdtest::options("mcr.competition", {{"num_samples", int64_t{0}}}), InputError);
  CHECK_THROWS_AS(stdtest::options("mcr.competition", {{"shuffle", std::string("rsx")}}), InputError);
  CHECK_THROWS_AS(stdtest::options("mcr.competition", {{"temperature", 0.0}}), InputError);
  const std::string widths = stdtest::error_of([] {
    stdtest::registry().make_intervention("mcr.competition", competition_args({}, 3, 5));
  });
  CHECK(stdtest::contains(widths, "needs equal widths (a: 3, v: 5)"));
  CHECK(stdtest::contains(widths, "contr_coeff: 0"));
  CHECK_NOTHROW(stdtest::registry().make_intervention("mcr.competition", competition_args({{"contr_coeff", 0.0}}, 3, 5)));
  auto one = competition_args({});
  one.model.features.erase("v");
  CHECK(stdtest::contains(stdtest::error_of([&] { stdtest::registry().make_intervention("mcr.competition", one); }),
                          "needs at least 2 modalities"));
}

TEST_CASE("the loss hook adds R, the contrastive, CEB and unimodal terms, equal to the plugin's functions") {
  TinyModel m;
  auto iv = competition({{"game", std::string("independent")}, {"l", 0.3}, {"num_samples", int64_t{5}},
                         {"shuffle", std::string("rsi")}, {"lib", 2.0}, {"multil", 0.05}, {"contr_coeff", 0.4}});
  iv->to(at::kDouble);
  CHECK(iv->hooks() == sdk::kLoss);
  CHECK(iv->parameters().size() == 2);  // the CEB decoder's two layers: the intervention's own trained parameters
  TinyHostModel host(m);
  SeededContext ctx(42);
  const sdk::ForwardRecord record = record_of(m);
  sdk::LossTerms terms;
  iv->loss(record, batch_of(m), sdk::Estimates(), host, terms, ctx);
  std::map<std::string, sdk::LossTerm> by_name;
  for (const auto& t : terms.terms()) by_name[t.name] = t;
  REQUIRE(by_name.size() == 4);
  CHECK(terms.task_weight() == 1.0);

  // R: the same permutations drawn from a stream seeded alike, through the same functions.
  SeededContext same(42);
  const at::Tensor perms = mcr::draw_permutations(same.rng("permutations"), m.labels, 5, mcr::Shuffle::Rsi);
  const auto game = mcr::play(*m.fusion, record.features, record.logits, mcr::pair_rows(perms, m.labels, mcr::Shuffle::Rsi),
                              mcr::Game::Independent);
  CHECK(by_name["competition"].weight == 0.3);
  CHECK(by_name["competition"].value.item<double>() == doctest::Approx(game.value.item<double>()).epsilon(1e-12));
  CHECK(game.value.item<double>() < 0);  // independent: -Σ J
  CHECK(ctx.metrics.count("js_a") == 1);
  CHECK(ctx.metrics.at("permuted_rows") == static_cast<double>(game.rows));

  CHECK(by_name["contrastive"].weight == 0.4);
  CHECK(by_name["contrastive"].value.item<double>() ==
        doctest::Approx(mcr::supervised_nt_xent({record.features.at("a"), record.features.at("v")}, m.labels, 0.5).item<double>()));
  CHECK(by_name["ceb"].weight == 2.0);
  CHECK(by_name["ceb"].value.item<double>() > 0);
  CHECK(by_name["unimodal_ce"].weight == 0.05);
  const double ce = (at::cross_entropy_loss(record.modality_logits.at("a"), m.labels) +
                     at::cross_entropy_loss(record.modality_logits.at("v"), m.labels)).item<double>();
  CHECK(by_name["unimodal_ce"].value.item<double>() == doctest::Approx(ce).epsilon(1e-12));

  // Every term reaches the parameters it should: the CEB decoder learns from the CEB term alone.
  at::Tensor total = at::zeros({}, at::kDouble);
  for (const auto& t : terms.terms()) total = total + t.value * t.weight;
  total.backward();
  for (const auto& p : iv->parameters()) CHECK(p.grad().abs().sum().item<double>() > 0);
  CHECK(m.wa.grad().abs().sum().item<double>() > 0);

  // A second step draws new permutations (the stream moves on); a context seeded alike repeats the first.
  sdk::LossTerms again;
  iv->loss(record_of(m), batch_of(m), sdk::Estimates(), host, again, ctx);
  CHECK(again.terms()[0].value.item<double>() != doctest::Approx(game.value.item<double>()).epsilon(1e-9));
  SeededContext fresh(42);
  sdk::LossTerms repeat;
  iv->loss(record_of(m), batch_of(m), sdk::Estimates(), host, repeat, fresh);
  CHECK(repeat.terms()[0].value.item<double>() == doctest::Approx(game.value.item<double>()).epsilon(1e-12));
}

TEST_CASE("switched-off terms are not added, and l = 0 runs no permuted pass") {
  TinyModel m;
  auto iv = competition({{"l", 0.0}, {"multil", 0.0}, {"contr_coeff", 0.0}});
  CHECK(iv->parameters().empty());  // lib = 0: no CEB decoder
  TinyHostModel host(m);
  SeededContext ctx(1);
  sdk::LossTerms terms;
  iv->loss(record_of(m), batch_of(m), sdk::Estimates(), host, terms, ctx);
  CHECK(terms.terms().empty());
  CHECK(ctx.metrics.empty());
}
