// Unit tests of @NAME@.logit_penalty with the SDK's test doubles: no host, no plugin loading.
#include "mmdebias/sdk/testing.hpp"
#include "@NAME@.hpp"

// doctest after LibTorch's headers: c10 defines a CHECK macro of its own, and the last definition wins.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

using namespace mmdebias::sdk;
using namespace mmdebias::sdk::testing;

namespace {

// A registrar holding what the plugin declares, as the host would see it.
FakeRegistrar registered() {
  FakeRegistrar r;
  @NAME@_plugin::register_components(r);
  return r;
}

}  // namespace

TEST_CASE("logit_penalty declares its weight: default 0.01 and at least 0") {
  const OptionSpec* weight = registered().decl("logit_penalty").schema.find("weight");
  REQUIRE(weight != nullptr);
  CHECK(std::get<double>(*weight->value) == 0.01);
  CHECK(weight->min == 0.0);
}

TEST_CASE("logit_penalty adds mean(logits^2) with its weight and logs it") {
  at::manual_seed(0);
  FakeModel model({{"a", 3}, {"b", 5}}, 4, 3);
  Batch batch = make_batch({{"a", at::randn({8, 3})}, {"b", at::randn({8, 5})}}, at::randint(0, 3, {8}));
  ForwardRecord record = model.forward(batch, {});
  auto penalty = registered().intervention("logit_penalty", {}, {{"weight", 0.5}});
  FakeContext ctx;
  LossTerms terms;
  penalty->loss(record, batch, Estimates{}, model, terms, ctx);
  REQUIRE(terms.terms().size() == 1);
  CHECK(terms.terms()[0].name == "logit_penalty");
  CHECK(terms.terms()[0].weight == 0.5);
  const double expected = record.logits.pow(2).mean().item<double>();
  CHECK(terms.terms()[0].value.item<double>() == doctest::Approx(expected));
  CHECK(ctx.metrics.at("mean_sq_logit") == doctest::Approx(expected));
}

TEST_CASE("a step down the penalty alone shrinks the logits") {
  at::manual_seed(1);
  FakeModel model({{"a", 3}, {"b", 5}}, 4, 3);
  Batch batch = make_batch({{"a", at::randn({16, 3})}, {"b", at::randn({16, 5})}}, at::randint(0, 3, {16}));
  auto penalty = registered().intervention("logit_penalty");
  FakeContext ctx;
  LossTerms terms;
  ForwardRecord before = model.forward(batch, {});
  penalty->loss(before, batch, Estimates{}, model, terms, ctx);
  terms.terms()[0].value.backward();
  {
    at::NoGradGuard no_grad;
    for (auto& p : model.parameters()) p.sub_(p.grad() * 0.1);
  }
  ForwardRecord after = model.forward(batch, {});
  CHECK(after.logits.pow(2).mean().item<double>() < before.logits.pow(2).mean().item<double>());
}
