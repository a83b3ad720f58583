// CausalMM under run.precision=bf16: the counterfactual contrast and the plausibility cut-off are computed in fp32
// whatever the precision (equal to the fp32 run on logits bf16 holds exactly; the contrast in bf16 is measurably off),
// and causalmm.counterfactual_attention's prediction on a real std.tokens transformer under bf16 autocast (the
// attention softmax in fp32, the edits on fp32 weights) stays within bf16's rounding of the fp32 run.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include <doctest/doctest.h>

#include "../../../plugins/causalmm/contrast.hpp"
#include "causalmm_support.hpp"
#include "methods/precision_checks.hpp"
#include "mmdebias/sdk/precision.hpp"

using namespace cmmtest;
using prectest::relative_error;
namespace cmm = mmdebias::causalmm;

namespace {

/// A model as the host runs it: a std.tokens encoder (two attention sites) and std.concat, logits cast to fp32.
class TokensModel : public sdk::Model {
 public:
  TokensModel() {
    at::manual_seed(5);
    inputs_ = {stdtest::tokens("t", 6, 20)};
    encoder_ = stdtest::make_encoder("std.tokens", inputs_, "t", {{"dim", int64_t{16}}, {"layers", int64_t{2}}, {"heads", int64_t{2}}});
    fusion_ = stdtest::make_fusion("std.concat", {{"t", stdtest::pooled(16)}}, 3);
  }
  const std::vector<std::string>& modalities() const override { return names_; }
  sdk::Encoder& encoder(const std::string&) override { return *encoder_; }
  sdk::Fusion& fusion() override { return *fusion_; }
  sdk::ForwardRecord forward(const sdk::Batch& batch, const sdk::AttentionSites& sites) override {
    sdk::AttentionSites recorded = sites;
    recorded.set_recording(true);
    sdk::ForwardRecord r;
    r.features["t"] = encoder_->encode(batch.inputs.at("t"), recorded);
    r.fused_input = r.fused = fusion_->fuse(r.features, recorded);
    r.logits = sdk::fp32(fusion_->head(r.fused));
    r.attention = recorded.recorded();
    return r;
  }
  std::vector<sdk::AttentionSiteInfo> sites() const { return encoder_->attention_sites(); }
  /// 8 samples of 6 token ids (0 is padding: the last two tokens of odd samples).
  sdk::Batch batch() const {
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(9);
    sdk::Batch b;
    at::Tensor ids = at::randint(1, 20, {8, 6}, gen, at::TensorOptions().dtype(at::kLong));
    for (int64_t i = 1; i < 8; i += 2) ids[i].narrow(0, 4, 2).zero_();
    b.inputs["t"] = ids;
    b.label = at::arange(8, at::kLong).remainder(3);
    return b;
  }

 private:
  std::vector<sdk::ModalitySpec> inputs_;
  std::vector<std::string> names_{"t"};
  std::shared_ptr<sdk::Encoder> encoder_;
  std::shared_ptr<sdk::Fusion> fusion_;
};

}  // namespace

TEST_CASE("the contrast of bf16 logits under bf16 autocast is fp32 and equals the fp32 contrast -- in bf16 it is off") {
  // l as an earlier prediction hook may hand it on (bf16), l_f and the counterfactual logits as the host gives them.
  const at::Tensor l = prectest::seeded({64, 5}, 1, 3.0);
  const at::Tensor cf1 = l + prectest::seeded({64, 5}, 2, 0.3), cf2 = l + prectest::seeded({64, 5}, 3, 0.3);
  const at::Tensor y = at::arange(64, at::kLong).remainder(5);
  at::Tensor l32 = l.clone().requires_grad_(true), l16 = l.clone().requires_grad_(true);
  const at::Tensor s32 = cmm::contrast(l32, l32, {cf1, cf2}, 1.0);
  at::cross_entropy_loss(s32, y).backward();
  at::Tensor s16, cut16, unguarded;
  {
    prectest::Bf16 autocast;
    const at::Tensor lb = l16.to(at::kBFloat16);
    s16 = cmm::contrast(lb, lb, {cf1, cf2}, 1.0);
    cut16 = cmm::contrastive_prediction(lb.detach(), lb.detach(), {cf1, cf2}, 1.0, 0.1);
    // The contrast with every operand in bf16, as a bf16 prediction chain would compute it.
    const at::Tensor b = l.to(at::kBFloat16);
    unguarded = b + 1.0 * ((b - cf1.to(at::kBFloat16)) + (b - cf2.to(at::kBFloat16)));
  }
  at::cross_entropy_loss(s16, y).backward();
  CHECK((s16.scalar_type() == at::kFloat));
  CHECK((cut16.scalar_type() == at::kFloat));
  const at::Tensor cut32 = cmm::contrastive_prediction(l, l, {cf1, cf2}, 1.0, 0.1);
  const double value = relative_error(s16, s32), grad = relative_error(l16.grad(), l32.grad());
  const double off = relative_error(unguarded, s32);
  MESSAGE("contrast: value " << value << ", gradient " << grad << "; in bf16 " << off);
  CHECK(value <= 1e-6);  // fp32 on the same values
  CHECK(cut16.equal(cut32));  // the same kept classes and cut scores
  CHECK(grad <= 4e-3);   // one bf16 rounding of the gradient of a bf16 tensor
  CHECK(off >= 1e-3);    // teeth: the contrast rounded to bf16 misses by 1000x the tolerance
}

TEST_CASE("causalmm.counterfactual_attention under bf16 autocast: fp32 attention and prediction within bf16's rounding") {
  TokensModel model;
  const sdk::Batch batch = model.batch();
  for (const std::string edit : {"uniform", "random"}) {
    CAPTURE(edit);
    auto run = [&](bool bf16) {
      auto iv = make_intervention(model.sites(), {{"edit", edit}, {"samples", int64_t{3}}, {"epsilon", 0.0}});
      RecordingContext ctx;
      at::NoGradGuard no_grad;
      std::optional<prectest::Bf16> autocast;
      if (bf16) autocast.emplace();
      const sdk::ForwardRecord record = model.forward(batch, sdk::AttentionSites());
      for (const auto& [site, weights] : record.attention) {
        CAPTURE(site);
        CHECK((weights.scalar_type() == at::kFloat));  // the softmax in fp32 under bf16 too
      }
      return iv->predict(record, record.logits, batch, sdk::Estimates(), model, ctx);
    };
    const at::Tensor s32 = run(false), s16 = run(true);
    CHECK((s16.scalar_type() == at::kFloat));
    const double error = relative_error(s16, s32);
    MESSAGE(edit << ": prediction " << error);
    // Every pass runs its matmuls in bf16 (a few roundings of at most 2^-9 in each logit), and (1 + 2γ)·l − γ·Σ l_cf
    // with γ = 1 adds three passes' errors (measured 6e-3).
    CHECK(error <= 3e-2);
  }
}
