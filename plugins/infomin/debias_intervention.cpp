// infomin.debias (TE-D's intervention): the head sees x̃ = FC(x − r) while training and predicting, and the
// prediction subtracts the bias-only logits (total-effect debiasing: logit − b_logit).
#include <cmath>
#include <stdexcept>
#include <string>

#include <ATen/ATen.h>
#include <torch/nn/init.h>

#include "mmdebias/sdk/bind.hpp"
#include "mmdebias/sdk/components.hpp"
#include "mmdebias/sdk/registrar.hpp"
#include "register.hpp"

namespace mmdebias::infomin {
namespace {

/// The options of infomin.debias.
struct Config {
  bool subtract_bias = false;

  static void declare(sdk::OptionBinder<Config>& b) {
    // Off by default as in the release's TE-D evaluation (LXMERT-TED, tie-inference off): subtracting a confident
    // bias head's logits lands near chance on a strong shortcut (docs/methods/infomin.md, benchmark).
    b.option("subtract_bias", &Config::subtract_bias, false,
             "At evaluation predict logit − b_logit (the paper's total-effect prediction); false (as released) keeps logit");
  }
};

/// FC = ReLU(weight-normed Linear(d, d)) as the release's FCNet([d, d], norm='weight', dim=None):
/// W = g · V / ‖V‖_F with one scalar g. on_fused: x ↦ FC(x − r); predict: logits − b_logit.
class DebiasIntervention : public sdk::Intervention {
 public:
  DebiasIntervention(const Config& c, const sdk::BuildArgs& args) : subtract_bias_(c.subtract_bias) {
    const int64_t d = args.model.fused_dim;
    if (d < 1) throw std::invalid_argument("infomin.debias needs the fusion's width (fused_dim), got " + std::to_string(d));
    // V and the bias as torch.nn.Linear initialises them; g starts at ‖V‖_F so W = V at the start.
    direction_ = register_parameter("direction", at::empty({d, d}));
    torch::nn::init::kaiming_uniform_(direction_, std::sqrt(5.0));
    const double bound = 1.0 / std::sqrt(static_cast<double>(d));
    bias_ = register_parameter("bias", at::empty({d}).uniform_(-bound, bound));
    scale_ = register_parameter("scale", direction_.detach().norm().reshape({}));
  }

  uint32_t hooks() const override { return sdk::kOnFused | (subtract_bias_ ? sdk::kPredict : 0u); }

  at::Tensor on_fused(const at::Tensor& fused, const sdk::Estimates& estimates, sdk::Context&) override {
    if (!estimates.has(kConfounderEstimate))
      throw std::invalid_argument(std::string("infomin.debias needs the estimate '") + kConfounderEstimate +
                                  "': add {type: infomin.confounder} under estimators");
    const at::Tensor& r = estimates.get(kConfounderEstimate);
    if (r.sizes() != fused.sizes())
      throw std::invalid_argument("infomin.debias: the confounder's shape differs from the fused features' (is another "
                                  "on_fused intervention listed before it changing the width?)");
    at::Tensor weight = direction_ * (scale_ / direction_.norm());
    return at::relu(at::linear(fused - r, weight, bias_));
  }

  at::Tensor predict(const sdk::ForwardRecord&, const at::Tensor& logits, const sdk::Batch&, const sdk::Estimates& estimates,
                     sdk::Model&, sdk::Context&) override {
    return logits - estimates.get(kBiasLogitsEstimate);
  }

 private:
  bool subtract_bias_;
  at::Tensor direction_, bias_, scale_;
};

}  // namespace

void register_debias(sdk::Registrar& r) {
  sdk::ComponentDecl d;
  d.name = "debias";
  d.doc = "CausalInfoMin TE-D: the head is trained on FC(x − r); prediction = logit, or logit − b_logit with subtract_bias "
          "(needs infomin.confounder)";
  d.schema = sdk::schema_of<Config>();
  d.needs = {"infomin_confounder"};
  r.add_intervention(std::move(d), [](const sdk::BuildArgs& a) {
    return std::make_shared<DebiasIntervention>(sdk::bind<Config>(a.options), a);
  });
}

}  // namespace mmdebias::infomin
