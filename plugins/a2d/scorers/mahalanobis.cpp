// a2d.mahalanobis: class-conditional Gaussians with a shared covariance (Lee et al., 2018), as MultiOOD
// evaluates it: class means mu_c and the pooled within-class covariance S (maximum likelihood, divided by N)
// of the training fused features, precision P = pinv(S); score(x) = max_c -(x - mu_c)^T P (x - mu_c).
// Statistics are accumulated in float64 per rank (count, sum and sum x x^T per class) and summed over ranks; the
// score is returned in the features' dtype (fp32 for bf16 features).
#include <limits>
#include <memory>
#include <string>

#include <ATen/ATen.h>

#include "common.hpp"
#include "mmdebias/sdk/precision.hpp"
#include "register.hpp"

namespace mmdebias::a2d {
namespace {

const char* kName = "a2d.mahalanobis";

class Mahalanobis : public sdk::Scorer {
 public:
  Mahalanobis(int64_t classes, int64_t dim) : classes_(classes), dim_(dim) {
    means_ = register_buffer("means", at::empty({0}, at::kDouble));
    precision_ = register_buffer("precision", at::empty({0}, at::kDouble));
  }

  bool needs_fit() const override { return true; }

  void fit(const sdk::ForwardRecord& record, const sdk::Batch& batch, sdk::Context&) override {
    at::Tensor x = fused_of(record, kName).detach().to(at::kDouble);
    if (x.size(1) != dim_) throw std::invalid_argument(std::string(kName) + ": fused features are " + std::to_string(x.size(1)) + " wide, expected " + std::to_string(dim_));
    at::Tensor y = batch.label.to(x.device());
    if (batch.ood.defined()) {  // training data should hold no OOD sample; never fit one
      at::Tensor id = batch.ood.to(x.device()).logical_not();
      x = x.index({id});
      y = y.index({id});
    }
    start(x.options());
    at::Tensor onehot = at::one_hot(y, classes_).to(at::kDouble);  // [B, C]
    counts_ += onehot.sum(0);
    sums_ += onehot.t().mm(x);
    second_ += x.t().mm(x);
  }

  void finish_fit(sdk::Context& ctx) override {
    sdk::FullPrecision full;  // float64 throughout (autocast would lower linalg_pinv's inner matmuls of fp32 inputs)
    start(at::TensorOptions().dtype(at::kDouble).device(ctx.device()));
    ctx.all_reduce_sum(counts_);
    ctx.all_reduce_sum(sums_);
    ctx.all_reduce_sum(second_);
    at::Tensor present = counts_ > 0;
    if (!present.any().item<bool>()) throw std::runtime_error(std::string(kName) + ": the fitting pass saw no training sample");
    at::Tensor n = counts_.index({present}).unsqueeze(1), means = sums_.index({present}) / n;
    // Pooled within-class scatter: sum_i x_i x_i^T - sum_c n_c mu_c mu_c^T.
    at::Tensor cov = (second_ - (means * n).t().mm(means)) / counts_.sum();
    assign(means_, means);
    // Cut-off as numpy/scipy (and so sklearn's precision_): singular values below D * eps of the largest.
    assign(precision_, at::linalg_pinv(cov, static_cast<double>(dim_) * std::numeric_limits<double>::epsilon(), /*hermitian=*/true));
    counts_ = sums_ = second_ = at::Tensor();
  }

  at::Tensor score(const sdk::ForwardRecord& record, const at::Tensor&, sdk::Context&) override {
    if (means_.numel() == 0) throw std::runtime_error(std::string(kName) + " has not been fitted (no training statistics)");
    const at::Tensor& fused = fused_of(record, kName);
    at::Tensor x = fused.to(at::kDouble);
    at::Tensor diff = x.unsqueeze(1) - means_.unsqueeze(0);  // [B, C, D]
    at::Tensor distance = (at::matmul(diff, precision_) * diff).sum(2);
    return std::get<0>((-distance).max(1)).to(score_dtype(fused));
  }

 private:
  void start(const at::TensorOptions& options) {
    if (counts_.defined()) return;
    counts_ = at::zeros({classes_}, options);
    sums_ = at::zeros({classes_, dim_}, options);
    second_ = at::zeros({dim_, dim_}, options);
  }

  int64_t classes_, dim_;
  at::Tensor means_, precision_;         // fitted, saved
  at::Tensor counts_, sums_, second_;    // accumulated during the fitting pass only
};

}  // namespace

void register_mahalanobis(sdk::Registrar& r) {
  sdk::ComponentDecl d;
  d.name = "mahalanobis";
  d.doc = "Mahalanobis distance of the fused features to the nearest class mean (shared covariance, fitted on training data)";
  r.add_scorer(std::move(d), [](const sdk::BuildArgs& a) {
    if (a.model.num_classes < 1 || a.model.fused_dim < 1) throw std::invalid_argument(std::string(kName) + " needs the number of classes and the fused width");
    return std::make_shared<Mahalanobis>(a.model.num_classes, a.model.fused_dim);
  });
}

}  // namespace mmdebias::a2d
