// CausalInfoMin under run.precision=bf16: the coding rate (a float64 log-determinant), the contrastive term, the bias
// cross-entropy and K-means' distances are computed in fp32 or float64 whatever the precision, so on inputs bf16 holds
// exactly they equal the fp32 run's (and come back fp32, not bf16); the confounder's loss and the backdoor-adjusted
// prediction under bf16 autocast stay within bf16's rounding of the fp32 run (the confounder's layer norms run in fp32:
// LibTorch 1.13's CPU layer_norm refused the bf16 activations with fp32 weights).
#include <map>
#include <optional>
#include <string>

#include <ATen/ATen.h>
#include <doctest/doctest.h>

#include "../../../plugins/infomin/kmeans.hpp"
#include "../../../plugins/infomin/objectives.hpp"
#include "infomin_helpers.hpp"
#include "methods/precision_checks.hpp"

namespace im = mmdebias::infomin;
using namespace infomintest;
using prectest::relative_error;

namespace {

/// The contrastive term as written before the fp32 guard, in its inputs' dtype.
at::Tensor contrastive_in_input_dtype(const at::Tensor& anchor, const at::Tensor& positive, const at::Tensor& negative, double t) {
  const at::Tensor a = im::unit_rows(anchor);
  const at::Tensor pos = (a * im::unit_rows(positive)).sum(1), neg = (a * im::unit_rows(negative)).sum(1);
  return at::softplus((neg - pos) / t).sum() / static_cast<double>(anchor.size(0));
}

/// The confounder's terms (by name) for fused features x and labels y, under bf16 autocast with x in bf16 when bf16;
/// then the backward of their weighted sum. Returns the terms and the gradient of its first layer's weight.
std::pair<std::map<std::string, sdk::LossTerm>, at::Tensor> confounder_step(bool bf16) {
  at::manual_seed(3);  // the confounder's initial weights, alike in both runs
  auto est = make_confounder(16, 4);
  const at::Tensor x = prectest::seeded({48, 16}, 4), y = at::arange(48, at::kLong).remainder(4);
  std::map<std::string, sdk::LossTerm> out;
  {
    std::optional<prectest::Bf16> autocast;
    if (bf16) autocast.emplace();
    TestContext ctx;
    sdk::Estimates estimates;
    sdk::ForwardRecord record;
    record.fused_input = x.to(bf16 ? at::kBFloat16 : at::kFloat);
    est->observe_fused(record, estimates, ctx);
    record.fused = at::relu(record.fused_input * 2 - 0.5);
    sdk::Batch batch;
    batch.label = y;
    sdk::LossTerms terms;
    est->loss(record, batch, estimates, terms, ctx);
    for (const auto& t : terms.terms()) out[t.name] = t;
  }
  at::Tensor total;
  for (const auto& [name, t] : out) total = total.defined() ? total + t.weight * t.value : t.weight * t.value;
  total.backward();
  return {out, parameter(*est, "bias_fc1.weight").grad().clone()};
}

}  // namespace

TEST_CASE("the coding rate of bf16 features under bf16 autocast is fp32 and equals the fp32 rate -- a bf16 rate is off") {
  const at::Tensor z = prectest::seeded({64, 12}, 1, 0.5);
  at::Tensor z32 = z.clone().requires_grad_(true), z16 = z.clone().requires_grad_(true);
  const at::Tensor r32 = im::coding_rate(z32, 0.01);
  r32.backward();
  at::Tensor r16;
  {
    prectest::Bf16 autocast;
    r16 = im::coding_rate(z16.to(at::kBFloat16), 0.01);
  }
  r16.backward();
  CHECK((r16.scalar_type() == at::kFloat));
  const double value = relative_error(r16, r32), grad = relative_error(z16.grad(), z32.grad());
  // Before the guard the float64 rate came back in z's dtype: bf16, i.e. the rate rounded to 8 bits.
  const double bf16_error = relative_error(r32.to(at::kBFloat16), r32);
  MESSAGE("R = " << r32.item<double>() << ": value " << value << ", gradient " << grad << ", R in bf16 " << bf16_error);
  CHECK(value <= 1e-6);       // the same float64 log-determinant, rounded to fp32 alike
  CHECK(grad <= 4e-3);        // the gradient of a bf16 tensor is rounded to bf16 once: <= 2^-9 per element
  CHECK(bf16_error >= 1e-4);  // teeth: R in bf16 misses by 100x the tolerance
}

TEST_CASE("the contrastive term and the bias cross-entropy of bf16 inputs under bf16 autocast are fp32 and equal fp32's") {
  const at::Tensor a = prectest::seeded({40, 16}, 5), n = prectest::seeded({40, 16}, 7);
  const at::Tensor p = (a + prectest::seeded({40, 16}, 6, 0.05)).to(at::kBFloat16).to(at::kFloat);  // near a, bf16-exact
  const at::Tensor logits = prectest::seeded({40, 5}, 8, 2.0), y = at::arange(40, at::kLong).remainder(5);
  at::Tensor a32 = a.clone().requires_grad_(true), a16 = a.clone().requires_grad_(true);
  const at::Tensor c32 = im::contrastive_loss(a32, p, n, 0.1), ce32 = im::mean_cross_entropy(logits, y);
  c32.backward();
  at::Tensor c16, ce16, unguarded;
  {
    prectest::Bf16 autocast;
    const at::Tensor pb = p.to(at::kBFloat16), nb = n.to(at::kBFloat16);
    c16 = im::contrastive_loss(a16.to(at::kBFloat16), pb, nb, 0.1);
    ce16 = im::mean_cross_entropy(logits.to(at::kBFloat16), y);
    unguarded = contrastive_in_input_dtype(a.to(at::kBFloat16), pb, nb, 0.1);
  }
  c16.backward();
  CHECK((c16.scalar_type() == at::kFloat));
  CHECK((ce16.scalar_type() == at::kFloat));
  const double c = relative_error(c16, c32), ce = relative_error(ce16, ce32), grad = relative_error(a16.grad(), a32.grad());
  const double c_off = relative_error(unguarded, c32);
  MESSAGE("contrastive " << c << ", bias CE " << ce << ", gradient " << grad << "; contrastive in bf16 " << c_off);
  CHECK(c <= 1e-5);  // fp32 on the same values
  CHECK(ce <= 1e-5);
  CHECK(grad <= 4e-3);   // one bf16 rounding of the gradient of a bf16 tensor
  CHECK(c_off >= 1e-3);  // teeth: cosines and softplus in bf16 (τ = 0.1 scales their rounding by 10)
}

TEST_CASE("K-means' nearest centroids of bf16 features under bf16 autocast are those of fp32 -- bf16 distances misassign") {
  // Rows far from the origin and centroids close together: |x|² − 2 x·c + |c|² cancels to small differences.
  const at::Tensor centroids = prectest::seeded({4, 8}, 9, 0.3) + 8.0;
  const at::Tensor x = (prectest::seeded({256, 8}, 10, 0.5) + 8.0).to(at::kBFloat16).to(at::kFloat);
  const at::Tensor want = im::nearest_centroid(x, centroids);
  at::Tensor got, unguarded;
  {
    prectest::Bf16 autocast;
    const at::Tensor xb = x.to(at::kBFloat16);
    got = im::nearest_centroid(xb, centroids);
    unguarded = (xb.pow(2).sum(1, true) - 2 * xb.mm(centroids.t()) + centroids.pow(2).sum(1).unsqueeze(0)).argmin(1);
  }
  const int64_t wrong = unguarded.ne(want).sum().item<int64_t>();
  MESSAGE("rows assigned differently with bf16 distances: " << wrong << " of 256");
  CHECK(got.equal(want));
  CHECK(wrong > 0);  // teeth
  // A fit on bf16-exact float64 rows is unaffected by autocast (float64 is never lowered).
  at::Tensor c32 = im::kmeans(x.to(at::kDouble), 4, 20, at::make_generator<at::CPUGeneratorImpl>(5)), c16;
  {
    prectest::Bf16 autocast;
    c16 = im::kmeans(x.to(at::kDouble), 4, 20, at::make_generator<at::CPUGeneratorImpl>(5));
  }
  CHECK(c16.equal(c32));
}

TEST_CASE("infomin.confounder's terms under bf16 autocast are fp32 and within bf16's rounding of the fp32 run") {
  const auto [t32, g32] = confounder_step(false);
  const auto [t16, g16] = confounder_step(true);
  REQUIRE(t16.size() == 3);  // rate, bias_ce, contrastive
  for (const auto& [name, t] : t16) {
    CAPTURE(name);
    CHECK((t.value.scalar_type() == at::kFloat));
    const double error = relative_error(t.value, t32.at(name).value);
    MESSAGE(name << ": value " << error << ", weight " << relative_error(at::scalar_tensor(t.weight), at::scalar_tensor(t32.at(name).weight)));
    // The confounder's MLP and bias head run in bf16 like the forward: a few roundings of at most 2^-9 reach r and
    // b_logit; the terms computed from them in fp32/float64 stay within 5e-3 (measured <= 6e-4).
    CHECK(error <= 5e-3);
  }
  const double grad = relative_error(g16, g32);
  MESSAGE("bias_fc1.weight gradient " << grad);
  CHECK(grad <= 3e-2);  // the bf16 forward and the bf16 backward of the MLP's matmuls (measured 7e-3)
}

TEST_CASE("infomin.backdoor's adjusted prediction under bf16 autocast is fp32 and within bf16's rounding of fp32") {
  const int64_t d = 8, classes = 3;
  auto run = [&](bool bf16) {
    at::manual_seed(11);  // the head's and the gate's weights, alike in both runs
    auto fusion = make_concat(d, classes);
    auto iv = make_intervention("infomin.backdoor", d, classes, {{"clusters", int64_t{3}}});
    {
      at::NoGradGuard g;
      buffer(*iv, "centroids").set_(prectest::seeded({3, d}, 12));
      parameter(*iv, "gate.weight").copy_(prectest::seeded({d, 2 * d}, 13, 0.3));
    }
    FusionOnlyModel model(fusion);
    TestContext ctx;
    ctx.phase_ = sdk::Phase::Eval;
    std::optional<prectest::Bf16> autocast;
    if (bf16) autocast.emplace();
    const at::Tensor x = prectest::seeded({20, d}, 14).to(bf16 ? at::kBFloat16 : at::kFloat);
    sdk::ForwardRecord record;
    record.fused_input = x;
    record.fused = iv->on_fused(x, sdk::Estimates(), ctx);
    record.logits = sdk::fp32(fusion->head(record.fused));  // as the host casts them
    return iv->predict(record, record.logits, sdk::Batch(), sdk::Estimates(), model, ctx);
  };
  const at::Tensor p32 = run(false), p16 = run(true);
  CHECK((p16.scalar_type() == at::kFloat));
  const double error = relative_error(p16, p32);
  MESSAGE("backdoor-adjusted logits: " << error);
  CHECK(error <= 1e-2);  // the gate and the head run in bf16 as in the forward; the mean over k is taken in fp32
}
