// MCR under run.precision=bf16: J, the contrastive and the CEB terms are computed in fp32 whatever the precision, so
// on inputs bf16 holds exactly they equal the fp32 run's; through mcr.competition's loss hook (features and the
// permuted passes' logits in bf16, the host's logits in fp32) the terms and gradients stay within bf16's rounding.
#include <map>
#include <optional>
#include <string>

#include <ATen/ATen.h>

#include "mcr_helpers.hpp"
#include "methods/precision_checks.hpp"
#include "mmdebias/sdk/precision.hpp"

#include <doctest/doctest.h>

using namespace mcrtest;
using prectest::relative_error;

namespace {

/// J as written before the fp32 guard, in its inputs' dtype: what a bf16 run computed from bf16 logits.
at::Tensor js_in_input_dtype(const at::Tensor& logits, const at::Tensor& base) {
  at::Tensor p = at::softmax(logits, 1), q = at::softmax(base, 1);
  at::Tensor log_m = at::clamp(0.5 * (p + q), mcr::kProbabilityFloor, 1.0).log();
  p = at::clamp(p, mcr::kProbabilityFloor, 1.0);
  q = at::clamp(q, mcr::kProbabilityFloor, 1.0);
  const double rows = static_cast<double>(logits.size(0));
  return 0.5 * ((p * (p.log() - log_m)).sum() / rows + (q * (q.log() - log_m)).sum() / rows);
}

/// A two-modality model in fp32 with bf16-exact weights: z_m = tanh(x_m W_m), std.concat fusion (C = 4).
struct Model32 {
  static constexpr int64_t kBatch = 32, kDim = 8, kClasses = 4;
  at::Tensor xa = prectest::seeded({kBatch, 6}, 11), xv = prectest::seeded({kBatch, 5}, 12);
  at::Tensor wa = prectest::seeded({6, kDim}, 13, 0.5).requires_grad_(true);
  at::Tensor wv = prectest::seeded({5, kDim}, 14, 0.5).requires_grad_(true);
  at::Tensor labels = at::arange(kBatch, at::kLong).remainder(kClasses);
  std::shared_ptr<sdk::Fusion> fusion =
      stdtest::make_fusion("std.concat", {{"a", stdtest::pooled(kDim)}, {"v", stdtest::pooled(kDim)}}, kClasses);

  Model32() {
    at::NoGradGuard no_grad;
    auto params = fusion->named_parameters();
    params["head.weight"].copy_(prectest::seeded({kClasses, 2 * kDim}, 15));
    params["head.bias"].copy_(prectest::seeded({kClasses}, 16, 0.2));
  }
  at::Tensor head_weight() { return fusion->named_parameters()["head.weight"]; }
};

/// The model as mcr.competition's loss hook sees it.
class HostModel : public sdk::Model {
 public:
  explicit HostModel(sdk::Fusion& f) : f_(f) {}
  const std::vector<std::string>& modalities() const override { return names_; }
  sdk::Encoder& encoder(const std::string&) override { throw std::logic_error("not needed"); }
  sdk::Fusion& fusion() override { return f_; }
  sdk::ForwardRecord forward(const sdk::Batch&, const sdk::AttentionSites&) override { throw std::logic_error("not needed"); }

 private:
  sdk::Fusion& f_;
  std::vector<std::string> names_{"a", "v"};
};

/// What one loss hook call gave: each term's value, and the gradients of their weighted sum.
struct HookResult {
  std::map<std::string, at::Tensor> terms;
  at::Tensor grad_wa, grad_wv, grad_head;
};

/// The forward (as the host runs it: logits cast to fp32) and mcr.competition's loss hook, in bf16 autocast or not;
/// then the backward of the weighted terms. (The independent game: greedy's R is 0 in value, its J's cancel.)
HookResult run_hook(bool bf16) {
  Model32 m;
  at::manual_seed(8);  // the CEB decoder's initial weights, alike in both runs
  auto iv = stdtest::registry().make_intervention("mcr.competition", [] {
    sdk::BuildArgs a;
    a.name = "interventions.competition";
    a.model.features = {{"a", stdtest::pooled(Model32::kDim)}, {"v", stdtest::pooled(Model32::kDim)}};
    a.model.num_classes = Model32::kClasses;
    a.options = stdtest::options("mcr.competition", {{"game", std::string("independent")}, {"num_samples", int64_t{8}}, {"lib", 1.0}, {"multil", 0.5}});
    return a;
  }());
  HostModel host(*m.fusion);
  SeededContext ctx(7);
  sdk::LossTerms terms;
  {
    std::optional<prectest::Bf16> autocast;
    if (bf16) autocast.emplace();
    sdk::ForwardRecord r;
    r.features = {{"a", at::tanh(at::matmul(m.xa, m.wa))}, {"v", at::tanh(at::matmul(m.xv, m.wv))}};
    if (bf16) CHECK((r.features.at("a").scalar_type() == at::kBFloat16));  // autocast did run the encoders in bf16
    r.fused = m.fusion->fuse(r.features, sdk::AttentionSites());
    r.logits = sdk::fp32(m.fusion->head(r.fused));
    for (const auto& [name, z] : r.features) r.modality_logits[name] = sdk::fp32(m.fusion->modality_head(name, z));
    sdk::Batch batch;
    batch.label = m.labels;
    iv->loss(r, batch, sdk::Estimates(), host, terms, ctx);
  }
  HookResult out;
  at::Tensor total;
  for (const auto& t : terms.terms()) {
    out.terms[t.name] = t.value.detach();
    total = total.defined() ? total + t.weight * t.value : t.weight * t.value;
  }
  total.backward();
  out.grad_wa = m.wa.grad().clone();
  out.grad_wv = m.wv.grad().clone();
  out.grad_head = m.head_weight().grad().clone();
  return out;
}

}  // namespace

TEST_CASE("J of bf16 logits under bf16 autocast is fp32 and equals J of the same values in fp32 -- J in bf16 is off") {
  const at::Tensor x = prectest::seeded({256, 6}, 1, 2.0), y = prectest::seeded({256, 6}, 2, 2.0);
  at::Tensor x32 = x.clone().requires_grad_(true);
  const at::Tensor j32 = mcr::jensen_shannon(x32, y);
  j32.backward();

  at::Tensor x16 = x.clone().requires_grad_(true);
  at::Tensor j16, unguarded;
  {
    prectest::Bf16 autocast;
    j16 = mcr::jensen_shannon(x16.to(at::kBFloat16), y.to(at::kBFloat16));
    unguarded = js_in_input_dtype(x.to(at::kBFloat16), y.to(at::kBFloat16));
  }
  j16.backward();
  CHECK((j16.scalar_type() == at::kFloat));
  const double value = relative_error(j16, j32), grad = relative_error(x16.grad(), x32.grad());
  const double bf16_error = relative_error(unguarded, j32);
  MESSAGE("J: value " << value << ", gradient " << grad << ", J computed in bf16 " << bf16_error);
  CHECK(value <= 1e-5);       // the same fp32 ops on the same values: fp32 rounding only
  CHECK(grad <= 4e-3);        // the gradient of a bf16 tensor is rounded to bf16 once: <= 2^-9 per element
  CHECK(bf16_error >= 1e-3);  // teeth: J in bf16 (softmax, logs, KL sums) misses by 100x the tolerance or more
}

TEST_CASE("the contrastive and CEB terms of bf16 features under bf16 autocast are fp32 and equal the fp32 terms") {
  const at::Tensor za = prectest::seeded({24, 8}, 3), zv = prectest::seeded({24, 8}, 4);
  const at::Tensor labels = at::arange(24, at::kLong).remainder(3);
  at::manual_seed(6);
  mcr::CebDecoder decoder(3, 8, 16);
  const at::Tensor logits = prectest::seeded({24, 3}, 5, 2.0);

  at::Tensor a32 = za.clone().requires_grad_(true), v32 = zv.clone().requires_grad_(true);
  const at::Tensor con32 = mcr::supervised_nt_xent({a32, v32}, labels, 0.5);
  const at::Tensor ceb32 = mcr::ceb_loss(decoder, logits, at::cat({a32, v32}, 1));
  (con32 + ceb32).backward();

  at::Tensor a16 = za.clone().requires_grad_(true), v16 = zv.clone().requires_grad_(true);
  at::Tensor con16, ceb16;
  {
    prectest::Bf16 autocast;
    const at::Tensor a = a16.to(at::kBFloat16), v = v16.to(at::kBFloat16);
    con16 = mcr::supervised_nt_xent({a, v}, labels, 0.5);
    ceb16 = mcr::ceb_loss(decoder, logits, at::cat({a, v}, 1));
  }
  (con16 + ceb16).backward();
  CHECK((con16.scalar_type() == at::kFloat));
  CHECK((ceb16.scalar_type() == at::kFloat));
  const double con = relative_error(con16, con32), ceb = relative_error(ceb16, ceb32);
  const double grad = relative_error(at::cat({a16.grad(), v16.grad()}), at::cat({a32.grad(), v32.grad()}));
  MESSAGE("contrastive " << con << ", CEB " << ceb << ", gradient " << grad);
  CHECK(con <= 1e-5);   // fp32 on the same values
  CHECK(ceb <= 1e-3);   // the decoder MLP runs in bf16 like any layer; its output's roundings barely move the mean
  CHECK(grad <= 1e-2);  // the decoder's bf16 output and the bf16 rounding of the features' gradient
}

TEST_CASE("mcr.competition's loss hook under bf16 autocast: fp32 terms within bf16's rounding of the fp32 run") {
  const HookResult f32 = run_hook(false), b16 = run_hook(true);
  REQUIRE(b16.terms.size() == 4);
  for (const auto& [name, value] : b16.terms) {
    CAPTURE(name);
    CHECK((value.scalar_type() == at::kFloat));
    const double error = relative_error(value, f32.terms.at(name));
    MESSAGE(name << ": value " << error);
    // The forward runs in bf16 (encoders, fusion head, the permuted passes, the CEB decoder): a few roundings of
    // at most 2^-9 each reach every term (measured <= 6e-4); 5e-3 bounds their sum.
    CHECK(error <= 5e-3);
  }
  const double ga = relative_error(b16.grad_wa, f32.grad_wa), gv = relative_error(b16.grad_wv, f32.grad_wv);
  const double gh = relative_error(b16.grad_head, f32.grad_head);
  MESSAGE("gradients: W_a " << ga << ", W_v " << gv << ", head " << gh);
  // The backward of bf16 matmuls rounds every activation gradient to bf16 as well (measured <= 8e-3).
  CHECK(ga <= 3e-2);
  CHECK(gv <= 3e-2);
  CHECK(gh <= 3e-2);
}
