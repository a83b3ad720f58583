// a2d.gen: Generalized ENtropy (Liu et al., CVPR 2023) of the (adjusted) logits, as MultiOOD evaluates it:
// p = softmax(logits), score = -sum over the M largest p_c of p_c^gamma (1 - p_c)^gamma. The release
// passes M = number of classes, which `top_m: 0` (the default) means. Computed in fp32 for bf16/fp16 logits.
#include <algorithm>
#include <memory>
#include <string>

#include <ATen/ATen.h>

#include "common.hpp"
#include "mmdebias/sdk/bind.hpp"
#include "mmdebias/sdk/precision.hpp"
#include "register.hpp"

namespace mmdebias::a2d {
namespace {

const char* kName = "a2d.gen";

/// The options of a2d.gen.
struct Config {
  double gamma = 0;
  int64_t top_m = 0;

  static void declare(sdk::OptionBinder<Config>& b) {
    b.option("gamma", &Config::gamma, 0.1, "Exponent gamma of p^gamma (1 - p)^gamma").at_least(1e-6);
    b.option("top_m", &Config::top_m, 0, "M: how many of the largest probabilities enter (0: all classes, as released)")
        .at_least(0);
  }
};

class Gen : public sdk::Scorer {
 public:
  Gen(double gamma, int64_t top_m) : gamma_(gamma), top_m_(top_m) {}

  at::Tensor score(const sdk::ForwardRecord&, const at::Tensor& logits, sdk::Context&) override {
    if (!logits.defined() || logits.dim() != 2 || !at::isFloatingType(logits.scalar_type()))
      throw std::invalid_argument(std::string(kName) + " scores floating-point logits [B, C]");
    sdk::FullPrecision full;
    at::Tensor p = at::softmax(sdk::fp32(logits), 1);
    const int64_t m = top_m_ == 0 ? p.size(1) : std::min(top_m_, p.size(1));
    at::Tensor top = std::get<0>(p.topk(m, 1));
    return -(top.pow(gamma_) * (1 - top).pow(gamma_)).sum(1);
  }

 private:
  double gamma_;
  int64_t top_m_;
};

}  // namespace

void register_gen(sdk::Registrar& r) {
  sdk::ComponentDecl d;
  d.name = "gen";
  d.doc = "Generalized entropy of the softmax over the M most likely classes (negated: higher = more in-distribution)";
  d.schema = sdk::schema_of<Config>();
  r.add_scorer(std::move(d), [](const sdk::BuildArgs& a) {
    const Config c = sdk::bind<Config>(a.options);
    return std::make_shared<Gen>(c.gamma, c.top_m);
  });
}

}  // namespace mmdebias::a2d
