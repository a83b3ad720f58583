// a2d.vim: Virtual-logit Matching (Wang et al., CVPR 2022) as MultiOOD evaluates it, on the fused features x
// and the fusion head's W, b (recovered by probing the head, which must be affine — see affine_head.hpp):
//   u = -pinv(W) b; the covariance of the training x - u (about 0); NS = its eigenvectors outside the `dim`
//   largest (the residual space); alpha = mean_train max_c logit_c / mean_train |(x - u) NS|;
//   score(x) = logsumexp(x W^T + b) - alpha |(x - u) NS|.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "affine_head.hpp"
#include "common.hpp"
#include "mmdebias/sdk/bind.hpp"
#include "mmdebias/sdk/precision.hpp"
#include "register.hpp"

namespace mmdebias::a2d {
namespace {

const char* kName = "a2d.vim";

/// The options of a2d.vim.
struct Config {
  int64_t dim = 0;

  static void declare(sdk::OptionBinder<Config>& b) {
    b.option("dim", &Config::dim, 0, "Dimension D of the principal subspace (0: half the fused width)").at_least(0);
  }
};

class Vim : public sdk::Scorer {
 public:
  Vim(int64_t dim_option, int64_t fused_dim) : fused_dim_(fused_dim) {
    principal_ = dim_option == 0 ? std::max<int64_t>(1, fused_dim / 2) : dim_option;
    if (principal_ >= fused_dim)
      throw std::invalid_argument(std::string(kName) + ": dim (the principal subspace) must be smaller than the fused width " +
                                  std::to_string(fused_dim) + ", got " + std::to_string(principal_));
    weight_ = register_buffer("weight", at::empty({0}, at::kDouble));
    bias_ = register_buffer("bias", at::empty({0}, at::kDouble));
    origin_ = register_buffer("origin", at::empty({0}, at::kDouble));
    residual_ = register_buffer("residual", at::empty({0}, at::kDouble));
    alpha_ = register_buffer("alpha", at::empty({0}, at::kDouble));
  }

  bool needs_fit() const override { return true; }

  void fit(const sdk::ForwardRecord& record, const sdk::Batch& batch, sdk::Context&) override {
    at::Tensor x = fused_of(record, kName).detach();
    if (batch.ood.defined()) x = x.index({batch.ood.to(x.device()).logical_not()});
    if (!dtype_.has_value()) dtype_ = score_dtype(x);  // the head is probed in fp32 for bf16 features
    parts_.push_back(x.to(at::kDouble));
  }

  void finish_fit(sdk::Context& ctx) override {
    // The head probed in fp32 (under autocast its bf16 logits would fail the affine check and round W and b to 8
    // bits); the statistics in float64.
    sdk::FullPrecision full;
    const at::TensorOptions doubles = at::TensorOptions().dtype(at::kDouble).device(ctx.device());
    at::Tensor x = ctx.all_gather(parts_.empty() ? at::empty({0, fused_dim_}, doubles) : at::cat(parts_));
    parts_.clear();
    if (x.size(0) < 2) throw std::runtime_error(std::string(kName) + ": the fitting pass saw fewer than 2 training samples");
    const at::TensorOptions head_options = doubles.dtype(dtype_.value_or(at::kFloat));
    AffineHead head = affine_head(lent_model(ctx, kName).fusion(), fused_dim_, head_options, x.abs().max().item<double>(), kName);
    at::Tensor origin = -at::linalg_pinv(head.weight).mv(head.bias);
    at::Tensor centred = x - origin;
    at::Tensor cov = centred.t().mm(centred) / static_cast<double>(x.size(0));
    at::Tensor vectors = std::get<1>(at::linalg_eigh(cov));  // eigenvalues ascending
    at::Tensor residual = vectors.narrow(1, 0, fused_dim_ - principal_).contiguous();
    at::Tensor logits = x.mm(head.weight.t()) + head.bias;
    at::Tensor alpha = std::get<0>(logits.max(1)).mean() / centred.mm(residual).norm(2, {1}).mean();
    assign(weight_, head.weight);
    assign(bias_, head.bias);
    assign(origin_, origin);
    assign(residual_, residual);
    assign(alpha_, alpha.reshape({1}));
  }

  at::Tensor score(const sdk::ForwardRecord& record, const at::Tensor&, sdk::Context&) override {
    if (alpha_.numel() == 0) throw std::runtime_error(std::string(kName) + " has not been fitted (no training statistics)");
    const at::Tensor& fused = fused_of(record, kName);
    at::Tensor x = fused.to(at::kDouble);
    at::Tensor energy = at::logsumexp(x.mm(weight_.t()) + bias_, {1});
    at::Tensor virtual_logit = (x - origin_).mm(residual_).norm(2, {1}) * alpha_;
    return (energy - virtual_logit).to(score_dtype(fused));
  }

 private:
  int64_t fused_dim_, principal_;
  std::optional<at::ScalarType> dtype_;
  at::Tensor weight_, bias_, origin_, residual_, alpha_;  // fitted, saved
  std::vector<at::Tensor> parts_;                          // this rank's features during the fitting pass
};

}  // namespace

void register_vim(sdk::Registrar& r) {
  sdk::ComponentDecl d;
  d.name = "vim";
  d.doc = "Virtual-logit matching: energy of the head's logits minus the scaled norm of the fused features outside their "
          "principal subspace (needs an affine fusion head)";
  d.schema = sdk::schema_of<Config>();
  r.add_scorer(std::move(d), [](const sdk::BuildArgs& a) {
    return std::make_shared<Vim>(sdk::bind<Config>(a.options).dim, a.model.fused_dim);
  });
}

}  // namespace mmdebias::a2d
