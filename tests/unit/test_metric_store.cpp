// Tensor metrics (SDK 1.1, Context::metric(name, tensor)): kept unread on their device during the step, read back
// together when the host flushes metrics, and then equal to what the double form (item<double>()) gives.
#include <cmath>
#include <limits>
#include <map>
#include <string>

#include <ATen/ATen.h>

#include "mmdebias/sdk/testing.hpp"
#include "pipeline/context.hpp"

#include <doctest/doctest.h>  // after LibTorch, whose glog defines another CHECK

using namespace mmdebias;

namespace {

// Equal as doubles, NaN equal to NaN (the double path logs a NaN as NaN too).
bool same(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

}  // namespace

TEST_CASE("a tensor metric recorded in a step is not read before the flush") {
  // A meta tensor has no values: any read of it (item, cpu, data_ptr) throws. Recording one must not.
  core::RunState state;
  core::ComponentContext ctx(state, "interventions.probe");
  sdk::Context& c = ctx;  // as a plugin holds it
  const at::Tensor loss = at::empty({}, at::TensorOptions().device(at::kMeta).dtype(at::kFloat));
  CHECK_NOTHROW(c.metric("loss", loss));
  CHECK_NOTHROW(c.metric("rows", at::empty({1}, at::TensorOptions().device(at::kMeta).dtype(at::kLong))));
  CHECK(state.metrics.pending() == 2);
  CHECK(!state.metrics.empty());
  // A step that logs nothing drops its metrics without reading them.
  CHECK_NOTHROW(state.metrics.clear());
  CHECK(state.metrics.empty());
  CHECK(state.metrics.transfers() == 0);
  // The flush is where the read happens: on meta it fails there, and only there.
  c.metric("loss", loss);
  CHECK_THROWS(state.metrics.take());
}

TEST_CASE("flushed tensor metrics equal the double path's, non-finite values included") {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  const std::map<std::string, at::Tensor> values = {
      {"float", at::scalar_tensor(0.1, at::kFloat)},
      {"double", at::scalar_tensor(1.0 / 3.0, at::kDouble)},
      {"half", at::scalar_tensor(0.3, at::kHalf)},
      {"bfloat16", at::scalar_tensor(2.7, at::kBFloat16)},
      {"long", at::scalar_tensor(int64_t{12345678901}, at::kLong)},
      {"bool", at::scalar_tensor(true, at::kBool)},
      {"one_element", at::full({1, 1}, -4.25, at::kFloat)},
      {"nan", at::scalar_tensor(nan, at::kFloat)},
      {"inf", at::scalar_tensor(-inf, at::kDouble)},
      {"view", at::arange(5, at::kFloat)[3]},
  };
  core::RunState tensors, doubles;
  core::ComponentContext t(tensors, "estimators.e"), d(doubles, "estimators.e");
  for (const auto& [name, value] : values) {
    static_cast<sdk::Context&>(t).metric(name, value);
    d.metric(name, value.item<double>());
  }
  CHECK(tensors.metrics.pending() == values.size());
  const std::map<std::string, double> a = tensors.metrics.take(), b = doubles.metrics.take();
  REQUIRE(a.size() == b.size());
  for (const auto& [name, v] : b) {
    CAPTURE(name);
    REQUIRE(a.count(name) == 1);
    CHECK(same(a.at(name), v));
  }
  CHECK(a.count("estimators.e/float") == 1);  // named "<instance path>/<name>" as before
  CHECK(tensors.metrics.empty());
  CHECK(tensors.metrics.take().empty());
  CHECK(tensors.metrics.transfers() == 0);  // CPU tensors: nothing crossed a device
}

TEST_CASE("a tensor metric keeps its value at record time; a name keeps its last value whatever the form") {
  core::RunState state;
  core::ComponentContext ctx(state, "interventions.x");
  sdk::Context& c = ctx;
  at::Tensor buffer = at::full({2}, 1.5, at::kDouble);
  c.metric("buffer", buffer[0]);
  buffer.fill_(7.0);  // a component updating its state in place after logging it
  c.metric("a", 1.0);
  c.metric("a", at::scalar_tensor(2.0));  // the tensor replaces the double
  c.metric("b", at::scalar_tensor(3.0));
  c.metric("b", 4.0);  // the double replaces the tensor
  std::map<std::string, double> m = state.metrics.take();
  CHECK(m.at("interventions.x/buffer") == 1.5);
  CHECK(m.at("interventions.x/a") == 2.0);
  CHECK(m.at("interventions.x/b") == 4.0);
  // A tensor metric is detached: recording one that requires grad leaves autograd alone.
  at::Tensor w = at::ones({1}, at::TensorOptions().requires_grad(true));
  c.metric("w", (w * 2).sum());
  CHECK(state.metrics.take().at("interventions.x/w") == 2.0);
}

TEST_CASE("a tensor metric must hold one real value") {
  core::RunState state;
  core::ComponentContext ctx(state, "fusion");
  sdk::Context& c = ctx;
  CHECK_THROWS_AS(c.metric("two", at::ones({2})), std::invalid_argument);
  CHECK_THROWS_AS(c.metric("none", at::ones({0})), std::invalid_argument);
  CHECK_THROWS_AS(c.metric("undefined", at::Tensor()), std::invalid_argument);
  CHECK_THROWS_AS(c.metric("complex", at::ones({}, at::kComplexFloat)), std::invalid_argument);
  CHECK(state.metrics.empty());
}

TEST_CASE("evaluation-style folds: one take per batch gives the doubles the double path gives") {
  // The evaluator folds after every batch (sum and count per name); the tensor form must sum the same doubles.
  core::RunState tensors, doubles;
  core::ComponentContext t(tensors, "interventions.m"), d(doubles, "interventions.m");
  std::map<std::string, double> sum_t, sum_d;
  for (int batch = 0; batch < 4; ++batch) {
    const at::Tensor v = at::scalar_tensor(0.1f * static_cast<float>(batch + 1), at::kFloat);
    static_cast<sdk::Context&>(t).metric("v", v);
    d.metric("v", v.item<double>());
    for (const auto& kv : tensors.metrics.take()) sum_t[kv.first] += kv.second;
    for (const auto& kv : doubles.metrics.take()) sum_d[kv.first] += kv.second;
  }
  CHECK(sum_t == sum_d);
}

TEST_CASE("FakeContext keeps a tensor metric unread off the CPU and reads it on the CPU") {
  sdk::testing::FakeContext ctx;
  sdk::Context& c = ctx;
  c.metric("cpu", at::scalar_tensor(0.25));
  CHECK(ctx.metrics.at("cpu") == 0.25);
  CHECK(ctx.tensor_metrics.count("cpu") == 1);
  CHECK_NOTHROW(c.metric("meta", at::empty({}, at::TensorOptions().device(at::kMeta))));
  CHECK(ctx.tensor_metrics.at("meta").device().is_meta());
  CHECK(ctx.metrics.count("meta") == 0);
  c.metric("cpu", 0.5);  // the double form replaces the tensor
  CHECK(ctx.tensor_metrics.count("cpu") == 0);
  CHECK(ctx.metrics.at("cpu") == 0.5);
}

TEST_CASE("a test double written against SDK 1.0 gets tensor metrics through its double metric()") {
  struct Old : sdk::testing::FakeContext {
    std::map<std::string, double> seen;
    void metric(const std::string& name, double value) override { seen[name] = value; }
    void metric_tensor(const std::string& name, const at::Tensor& value) override {
      sdk::Context::metric_tensor(name, value);  // the SDK's default: reads at once, calls metric(name, double)
    }
  } old;
  static_cast<sdk::Context&>(old).metric("x", at::scalar_tensor(3.5, at::kFloat));
  CHECK(old.seen.at("x") == 3.5);
}
