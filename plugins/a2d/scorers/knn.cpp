// a2d.knn: deep nearest neighbours (Sun et al., 2022) as MultiOOD evaluates it: training fused features and
// test features are L2-normalised; score(x) = -|x - b_(K)|, the distance to the K-th nearest training
// feature (the release's FAISS index returns the squared distance; the ranking is the same). The search
// walks the bank in blocks of `chunk` rows for blocks of `chunk` queries, keeping the K best so far, so
// memory is O(chunk^2 + chunk K) whatever the bank size N (never N x N). Normalisation and search are in fp32 under
// every precision: ||q||² + ||b||² − 2 q·b of unit vectors cancels to a small distance that bf16 would not resolve.
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "common.hpp"
#include "mmdebias/sdk/bind.hpp"
#include "mmdebias/sdk/precision.hpp"
#include "register.hpp"

namespace mmdebias::a2d {
namespace {

const char* kName = "a2d.knn";

/// The options of a2d.knn.
struct Config {
  int64_t k = 0, chunk = 0;

  static void declare(sdk::OptionBinder<Config>& b) {
    b.option("k", &Config::k, 10, "K: which nearest training feature").at_least(1);
    b.option("chunk", &Config::chunk, 2048, "Rows per block of the search (memory is O(chunk^2), never O(N^2))").at_least(1);
  }
};

/// Rows divided by their L2 norm (at least 1e-12, as torch.nn.functional.normalize).
at::Tensor normalized(const at::Tensor& x) { return x / x.norm(2, {1}, true).clamp_min(1e-12); }

/// The distance from each query [B, D] to its k-th nearest row of bank [N, D], blockwise.
at::Tensor kth_distance(const at::Tensor& queries, const at::Tensor& bank, int64_t k, int64_t chunk) {
  std::vector<at::Tensor> out;
  for (int64_t q0 = 0; q0 < queries.size(0); q0 += chunk) {
    at::Tensor q = queries.narrow(0, q0, std::min(chunk, queries.size(0) - q0));
    at::Tensor q_sq = (q * q).sum(1, true);
    at::Tensor best;  // [b, <= k] smallest squared distances so far
    for (int64_t b0 = 0; b0 < bank.size(0); b0 += chunk) {
      const int64_t n = std::min(chunk, bank.size(0) - b0);
      at::Tensor rows = bank.narrow(0, b0, n);  // squared norms per block: a bank-sized temporary would be O(N)
      at::Tensor d = (q_sq + (rows * rows).sum(1).unsqueeze(0) - 2.0 * q.mm(rows.t())).clamp_min(0.0);
      at::Tensor both = best.defined() ? at::cat({best, d}, 1) : d;
      best = std::get<0>(both.topk(std::min(k, both.size(1)), 1, /*largest=*/false, /*sorted=*/true));
    }
    out.push_back(best.select(1, k - 1).sqrt());
  }
  return out.empty() ? at::empty({0}, queries.options()) : at::cat(out);
}

class Knn : public sdk::Scorer {
 public:
  Knn(int64_t k, int64_t chunk, int64_t dim) : k_(k), chunk_(chunk), dim_(dim) {
    bank_ = register_buffer("bank", at::empty({0}, at::kFloat));  // float32 whatever the features: N x D can be large
  }

  bool needs_fit() const override { return true; }

  void fit(const sdk::ForwardRecord& record, const sdk::Batch& batch, sdk::Context&) override {
    at::Tensor x = fused_of(record, kName).detach();
    if (batch.ood.defined()) x = x.index({batch.ood.to(x.device()).logical_not()});
    parts_.push_back(normalized(sdk::fp32(x)).to(at::kFloat));
  }

  void finish_fit(sdk::Context& ctx) override {
    at::Tensor mine = parts_.empty() ? at::empty({0, dim_}, at::TensorOptions().dtype(at::kFloat).device(ctx.device())) : at::cat(parts_);
    parts_.clear();
    at::Tensor bank = ctx.all_gather(mine);
    if (bank.size(0) < k_)
      throw std::runtime_error(std::string(kName) + ": K = " + std::to_string(k_) + " but the fitting pass saw only " +
                               std::to_string(bank.size(0)) + " training samples");
    assign(bank_, bank);
  }

  at::Tensor score(const sdk::ForwardRecord& record, const at::Tensor&, sdk::Context&) override {
    if (bank_.size(0) == 0) throw std::runtime_error(std::string(kName) + " has not been fitted (no training features)");
    const at::Tensor& fused = fused_of(record, kName);
    sdk::FullPrecision full;  // the search's q.mm(rows^T) in fp32, not autocast's bf16
    at::Tensor q = normalized(fused.detach().to(bank_.scalar_type()));
    return (-kth_distance(q, bank_, k_, chunk_)).to(score_dtype(fused));
  }

 private:
  int64_t k_, chunk_, dim_;
  at::Tensor bank_;                // fitted, saved: the normalised training features [N, D]
  std::vector<at::Tensor> parts_;  // this rank's features during the fitting pass
};

}  // namespace

void register_knn(sdk::Registrar& r) {
  sdk::ComponentDecl d;
  d.name = "knn";
  d.doc = "Minus the distance of the L2-normalised fused features to their K-th nearest training feature";
  d.schema = sdk::schema_of<Config>();
  r.add_scorer(std::move(d), [](const sdk::BuildArgs& a) {
    const Config c = sdk::bind<Config>(a.options);
    return std::make_shared<Knn>(c.k, c.chunk, a.model.fused_dim);
  });
}

}  // namespace mmdebias::a2d
