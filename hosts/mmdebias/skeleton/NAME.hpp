// The @NAME@ plugin's component, @NAME@.logit_penalty: adds weight * mean(logits^2) to the loss (a confidence
// penalty). In a header so that test_@NAME@.cpp can build and test it without the host. Replace it with your
// method; the plugin guide (<prefix>/share/doc/mmdebias/plugin-guide.md) lists every hook.
#pragma once

#include <memory>

#include <ATen/ATen.h>

#include "mmdebias/sdk/sdk.hpp"

namespace @NAME@_plugin {

using namespace mmdebias::sdk;

// The component's options, each declared once: name, field, default, doc, range. schema_of<Config>() gives the
// host the schema (validation, `mmdebias describe`); bind<Config>() gives the factory the filled struct.
struct Config {
  double weight = 0;

  static void declare(OptionBinder<Config>& b) {
    b.option("weight", &Config::weight, 0.01, "multiplier of the penalty").at_least(0);
  }
};

class LogitPenalty : public Intervention {
 public:
  explicit LogitPenalty(const Config& config) : weight_(config.weight) {}
  // The engine calls only the hooks declared here.
  uint32_t hooks() const override { return kLoss; }
  void loss(const ForwardRecord& record, const Batch&, const Estimates&, Model&, LossTerms& terms, Context& ctx) override {
    at::Tensor penalty = record.logits.pow(2).mean();
    terms.add("logit_penalty", penalty, weight_);  // logged unweighted as <instance name>/logit_penalty
    // A tensor, not penalty.item<double>(): the host reads metrics back when it logs them, not once per step (SDK 1.1).
    ctx.metric("mean_sq_logit", penalty);  // logged as <instance path>/mean_sq_logit
  }

 private:
  double weight_;
};

// Declares the components; the host calls it only after it accepted the plugin's build fingerprint.
inline void register_components(Registrar& r) {
  ComponentDecl decl{"logit_penalty", "adds weight * mean(logits^2) to the loss", schema_of<Config>(), {}, {}};
  r.add_intervention(std::move(decl), [](const BuildArgs& a) { return std::make_shared<LogitPenalty>(bind<Config>(a.options)); });
}

}  // namespace @NAME@_plugin
