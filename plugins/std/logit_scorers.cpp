// std.msp, std.energy, std.maxlogit: post-hoc OOD scores computed from the logits alone (no fit).
//
// Each scores the `logits` argument (the logits after any prediction-time adjustment), never record.logits,
// and gives one score per sample with higher = more in-distribution (OpenOOD's convention):
//   msp      = max_c softmax(logits)_c                       (Hendrycks & Gimpel, 2017)
//   energy   = T * logsumexp_c(logits_c / T)  (= -E(x; T))   (Liu et al., 2020)
//   maxlogit = max_c logits_c                                 (Hendrycks et al., 2022)
// Scores are computed in fp32 for bf16/fp16 logits (sdk/precision.hpp), else in the logits' dtype, on their device.
#include <memory>
#include <stdexcept>
#include <string>

#include <ATen/ATen.h>

#include "common.hpp"
#include "mmdebias/sdk/bind.hpp"
#include "mmdebias/sdk/precision.hpp"
#include "register.hpp"

namespace mmdebias::std_plugin {
namespace {

/// Throws unless logits is a floating [B, C] tensor with C >= 1.
void check_logits(const at::Tensor& logits, const std::string& component) {
  if (!logits.defined() || logits.dim() != 2 || logits.size(1) < 1 || !at::isFloatingType(logits.scalar_type()))
    throw std::invalid_argument(component + " scores floating-point logits [B, C] with C >= 1, got " +
                                (logits.defined() ? batch_shape_string(logits) : std::string("an undefined tensor")));
}

class MspScorer : public sdk::Scorer {
 public:
  at::Tensor score(const sdk::ForwardRecord&, const at::Tensor& logits, sdk::Context&) override {
    check_logits(logits, "std.msp");
    sdk::FullPrecision full;
    return std::get<0>(at::softmax(sdk::fp32(logits), 1).max(1));
  }
};

/// The options of std.energy.
struct EnergyConfig {
  double temperature = 0;

  static void declare(sdk::OptionBinder<EnergyConfig>& b) {
    b.option("temperature", &EnergyConfig::temperature, 1.0, "Energy temperature T (> 0)").at_least(1e-6);
  }
};

class EnergyScorer : public sdk::Scorer {
 public:
  explicit EnergyScorer(double temperature) : temperature_(temperature) {}
  at::Tensor score(const sdk::ForwardRecord&, const at::Tensor& logits, sdk::Context&) override {
    check_logits(logits, "std.energy");
    sdk::FullPrecision full;
    return at::logsumexp(sdk::fp32(logits) / temperature_, {1}) * temperature_;
  }

 private:
  double temperature_;
};

class MaxLogitScorer : public sdk::Scorer {
 public:
  at::Tensor score(const sdk::ForwardRecord&, const at::Tensor& logits, sdk::Context&) override {
    check_logits(logits, "std.maxlogit");
    return std::get<0>(sdk::fp32(logits).max(1));
  }
};

}  // namespace

void register_logit_scorers(sdk::Registrar& r) {
  {
    sdk::ComponentDecl d;
    d.name = "msp";
    d.doc = "Maximum softmax probability of the (adjusted) logits; higher = more in-distribution";
    r.add_scorer(std::move(d), [](const sdk::BuildArgs&) { return std::make_shared<MspScorer>(); });
  }
  {
    sdk::ComponentDecl d;
    d.name = "energy";
    d.doc = "Negative energy T * logsumexp(logits / T) of the (adjusted) logits; higher = more in-distribution";
    d.schema = sdk::schema_of<EnergyConfig>();
    r.add_scorer(std::move(d), [](const sdk::BuildArgs& a) {
      const double t = sdk::bind<EnergyConfig>(a.options).temperature;
      if (!(t > 0.0)) throw std::invalid_argument("std.energy: temperature must be > 0, got " + std::to_string(t));
      return std::make_shared<EnergyScorer>(t);
    });
  }
  {
    sdk::ComponentDecl d;
    d.name = "maxlogit";
    d.doc = "Maximum logit of the (adjusted) logits; higher = more in-distribution";
    r.add_scorer(std::move(d), [](const sdk::BuildArgs&) { return std::make_shared<MaxLogitScorer>(); });
  }
}

}  // namespace mmdebias::std_plugin
