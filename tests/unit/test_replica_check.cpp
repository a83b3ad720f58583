// run.check_replicas' comparison (train/replica_check.cpp): equal gradients pass, one flipped bit or two swapped values
// on one rank are named with the parameter and the rank, and an undefined gradient is not equal to a zero one.
#include <doctest/doctest.h>

#include <ATen/ATen.h>

#include "train/replica_check.hpp"

namespace {

using mmdebias::core::Collective;
using mmdebias::core::NamedParameter;

// Three "ranks" in one process: all_gather returns this rank's rows and the other ranks' as given by edit.
class FakeWorld : public Collective {
 public:
  explicit FakeWorld(std::vector<at::Tensor> others) : others_(std::move(others)) {}
  int world_size() const override { return 1 + static_cast<int>(others_.size()); }
  at::Tensor all_gather(const at::Tensor& mine) override {
    std::vector<at::Tensor> rows{mine};
    for (const auto& o : others_) rows.push_back(o);
    return at::cat(rows);
  }

 private:
  std::vector<at::Tensor> others_;
};

std::vector<NamedParameter> params_with_grads(const std::vector<at::Tensor>& grads) {
  std::vector<NamedParameter> out;
  for (size_t i = 0; i < grads.size(); ++i) {
    at::Tensor p = at::zeros_like(grads[i]).requires_grad_(true);
    if (grads[i].numel() > 0) p.mutable_grad() = grads[i].clone();
    out.emplace_back("layer" + std::to_string(i) + ".weight", p);
  }
  return out;
}

// The digest rows another rank would send for these gradients: what replica_mismatch gathers, computed the same way.
at::Tensor rows_of(const std::vector<NamedParameter>& params) {
  at::Tensor sent;
  struct Capture : Collective {
    at::Tensor* out;
    int world_size() const override { return 2; }
    at::Tensor all_gather(const at::Tensor& t) override {
      *out = t.clone();
      return at::cat({t, t});
    }
  } capture;
  capture.out = &sent;
  mmdebias::core::replica_mismatch(params, capture);
  return sent;
}

}  // namespace

TEST_CASE("replica check: identical gradients pass and a flipped bit or swapped values are named with the rank") {
  at::manual_seed(0);
  std::vector<at::Tensor> grads = {at::randn({4, 3}), at::randn({5})};
  const auto mine = params_with_grads(grads);
  const at::Tensor same = rows_of(mine);
  FakeWorld agree({same, same});
  CHECK(mmdebias::core::replica_mismatch(mine, agree).empty());

  std::vector<at::Tensor> flipped = {grads[0].clone(), grads[1].clone()};
  flipped[1].view(at::kInt)[2].bitwise_xor_(1);  // the lowest bit of one float
  FakeWorld one_bit({same, rows_of(params_with_grads(flipped))});
  CHECK(mmdebias::core::replica_mismatch(mine, one_bit) == "the gradient of layer1.weight differs between rank 0 and rank 2");

  std::vector<at::Tensor> swapped = {grads[0].clone(), grads[1].clone()};
  swapped[0][0][0] = grads[0][1][2].item<float>();
  swapped[0][1][2] = grads[0][0][0].item<float>();
  FakeWorld swap({rows_of(params_with_grads(swapped)), same});
  CHECK(mmdebias::core::replica_mismatch(mine, swap) == "the gradient of layer0.weight differs between rank 0 and rank 1");
}

TEST_CASE("replica check: an undefined gradient differs from a zero one and a world of one checks nothing") {
  const auto zero = params_with_grads({at::zeros({3})});
  const auto none = params_with_grads({at::empty({0})});  // numel 0: no gradient set
  FakeWorld other({rows_of(none)});
  CHECK_FALSE(mmdebias::core::replica_mismatch(zero, other).empty());
  Collective alone;
  CHECK(mmdebias::core::replica_mismatch(zero, alone).empty());
}
