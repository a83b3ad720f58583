// sdk/testing.hpp, the test doubles third-party plugins unit-test with: they must behave as the host does where a
// test relies on it (per-modality heads, detached step records, defaults from the schema, building by name).
#include "mmdebias/sdk/testing.hpp"

#include <doctest/doctest.h>

using namespace mmdebias::sdk;
using namespace mmdebias::sdk::testing;

TEST_CASE("FakeModel: the per-modality heads add up to the fused head and gradients reach the encoders") {
  at::manual_seed(0);
  FakeModel model({{"a", 3}, {"b", 5}}, 4, 2);
  CHECK(model.spec().fused_dim == 8);
  CHECK(model.spec().features.at("b").dim == 4);
  Batch batch = make_batch({{"a", at::randn({6, 3})}, {"b", at::randn({6, 5})}}, at::tensor({0, 1, 0, 1, 1, 0}));
  CHECK(batch.size() == 6);
  CHECK(at::equal(batch.group, at::full({6}, -1, at::kLong)));
  ForwardRecord r = model.forward(batch, {});
  at::Tensor bias = model.fusion().parameters().back();  // Linear registers weight, then bias
  CHECK(at::allclose(r.modality_logits.at("a") + r.modality_logits.at("b") - bias, r.logits, 1e-5, 1e-6));
  r.logits.sum().backward();
  for (auto& p : model.encoder("a").parameters()) CHECK(p.grad().defined());
}

TEST_CASE("step_of detaches the records it is given as the host does for hook 7") {
  FakeModel model({{"a", 2}}, 3, 2);
  Batch batch = make_batch({{"a", at::randn({4, 2})}}, at::tensor({0, 1, 1, 0}));
  StepRecords step = step_of({{batch, model.forward(batch, {})}, {batch, model.forward(batch, {})}});
  REQUIRE(step.micro_batches.size() == 2);
  CHECK_FALSE(step.micro_batches[0].record.logits.requires_grad());
  CHECK_FALSE(step.micro_batches[1].record.features.at("a").requires_grad());
}

namespace {
struct Opts {
  double weight = 0;
  std::string mode;
  static void declare(OptionBinder<Opts>& b) {
    b.option("weight", &Opts::weight, 0.25, "w").at_least(0);
    b.choice("mode", &Opts::mode, "x", {"x", "y"}, "m");
  }
};
class Nothing : public Intervention {
 public:
  explicit Nothing(Opts o) : o(std::move(o)) {}
  uint32_t hooks() const override { return 0; }
  Opts o;
};
void register_nothing(Registrar& r) {
  r.add_intervention({"nothing", "does nothing", schema_of<Opts>(), {}, {}},
                     [](const BuildArgs& a) { return std::make_shared<Nothing>(bind<Opts>(a.options)); });
}
}  // namespace

TEST_CASE("FakeRegistrar builds a component by name with defaults and overrides and options_for refuses unknown names") {
  FakeRegistrar r;
  register_nothing(r);
  CHECK(r.names() == std::vector<std::string>{"nothing"});
  auto built = std::dynamic_pointer_cast<Nothing>(r.intervention("nothing", {}, {{"mode", std::string("y")}}));
  REQUIRE(built);
  CHECK(built->o.weight == 0.25);
  CHECK(built->o.mode == "y");
  CHECK_THROWS_AS(r.intervention("missing"), std::out_of_range);
  CHECK_THROWS_AS(r.estimator("nothing"), std::out_of_range);  // registered, but not as an estimator
  CHECK_THROWS_WITH(options_for(schema_of<Opts>(), {{"wieght", 1.0}}), "option 'wieght' is not declared");
  CHECK_THROWS_AS(register_nothing(r), std::invalid_argument);  // the same name twice
}

TEST_CASE("FakeContext: streams are reproducible and rank and shared streams differ and calls are recorded") {
  FakeContext a, b;
  at::Tensor x = at::rand({4}, a.rng("s")), y = at::rand({4}, b.rng("s"));
  CHECK(at::equal(x, y));
  CHECK_FALSE(at::equal(at::rand({4}, a.shared_rng("s")), at::rand({4}, a.rng("s"))));
  a.metric("m", 2.0);
  at::Tensor t = at::ones({2});
  a.all_reduce_sum(t);
  CHECK(a.metrics.at("m") == 2.0);
  CHECK(a.reductions == 1);
  CHECK(at::equal(t, at::ones({2})));  // a world of one
}
