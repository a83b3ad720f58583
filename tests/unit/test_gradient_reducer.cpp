// The overlapping gradient reducer (train/gradient_reducer.cpp) against a fake second rank: buckets start during
// backward, in one order, the last one after backward carrying the extra values; gradients end averaged; a parameter
// no rank used keeps no gradient.
#include <doctest/doctest.h>

#include <ATen/ATen.h>
#include <torch/nn/modules/linear.h>

#include "train/gradient_reducer.hpp"

namespace {

using mmdebias::core::Collective;

// Rank 0 of two, the other rank's contribution given by other(tensor): records each reduction as it starts.
class TwoRanks : public Collective {
 public:
  std::function<at::Tensor(const at::Tensor&)> other = [](const at::Tensor& t) { return t.clone(); };
  std::vector<int64_t> started;           // sizes of the reductions, in the order they started
  std::vector<bool> started_in_backward;  // whether each started while *in_backward was true
  const bool* in_backward = nullptr;
  int world_size() const override { return 2; }
  std::function<void()> start_all_reduce_sum(at::Tensor& t) override {
    started.push_back(t.numel());
    started_in_backward.push_back(in_backward && *in_backward);
    at::Tensor theirs = other(t);
    return [t, theirs]() mutable { t.add_(theirs); };
  }
  void all_reduce_sum(at::Tensor& t) override { start_all_reduce_sum(t)(); }
};

std::vector<at::Tensor> parameters_of(const std::vector<torch::nn::Linear>& layers) {
  std::vector<at::Tensor> out;
  for (const auto& l : layers)
    for (const auto& p : l->parameters()) out.push_back(p);
  return out;
}

}  // namespace

TEST_CASE("gradient reducer: buckets start during backward in one order, the last carries the extra values") {
  at::manual_seed(0);
  std::vector<torch::nn::Linear> layers{torch::nn::Linear(64, 64), torch::nn::Linear(64, 64), torch::nn::Linear(64, 8)};
  const std::vector<at::Tensor> params = parameters_of(layers);
  TwoRanks world;
  bool in_backward = false;
  world.in_backward = &in_backward;
  // The hooks see the flag set while backward runs: the test's stand-in for "overlapping".
  mmdebias::core::GradientReducer reducer(params, /*bucket_bytes=*/64 * 64 * 4, world);

  const at::Tensor x = at::randn({16, 64});
  auto loss_of = [&] { return layers[2]->forward(layers[1]->forward(layers[0]->forward(x).relu()).relu()).pow(2).mean(); };
  // The single-process gradients, for the comparison.
  loss_of().backward();
  std::vector<at::Tensor> expected;
  for (const auto& p : params) expected.push_back(p.grad().clone());
  for (const auto& p : params) p.mutable_grad() = at::Tensor();

  reducer.arm();
  in_backward = true;
  loss_of().backward();
  in_backward = false;
  CHECK(reducer.started_during_backward() == 0);  // counted at finish
  at::Tensor extra = at::tensor({1.5, -2.0}, at::kDouble);
  reducer.finish(extra);

  // Three buckets over 6 parameters: the started sizes are their gradients (the last also 6 flags + 2 extras).
  REQUIRE(world.started.size() >= 2);
  CHECK(reducer.started_during_backward() == world.started.size() - 1);
  for (size_t k = 0; k + 1 < world.started.size(); ++k) CHECK(world.started_in_backward[k]);
  CHECK_FALSE(world.started_in_backward.back());
  int64_t total = 0;
  for (int64_t n : world.started) total += n;
  int64_t grads = 0;
  for (const auto& p : params) grads += p.numel();
  CHECK(total == grads + static_cast<int64_t>(params.size()) + 2);
  // The last started bucket holds the first parameter registered (ready last), up to the bucket size: here its weight.
  CHECK(world.started.back() == layers[0]->weight.numel() + static_cast<int64_t>(params.size()) + 2);
  // Both ranks had the same gradients: the average is this rank's own; the extra values are summed.
  for (size_t i = 0; i < params.size(); ++i) CHECK(at::allclose(params[i].grad(), expected[i], 1e-6, 1e-7));
  CHECK(extra[0].item<double>() == doctest::Approx(3.0));
  CHECK(extra[1].item<double>() == doctest::Approx(-4.0));

  // A second armed step starts the same buckets in the same order, again during backward.
  const std::vector<int64_t> first = world.started;
  world.started.clear();
  world.started_in_backward.clear();
  for (const auto& p : params) p.mutable_grad() = at::Tensor();
  reducer.arm();
  in_backward = true;
  loss_of().backward();
  in_backward = false;
  reducer.finish(extra);
  CHECK(world.started == first);
  CHECK(reducer.started_during_backward() == first.size() - 1);
}

TEST_CASE("gradient reducer: without arm() every bucket starts at finish; unused parameters follow the other rank") {
  at::manual_seed(1);
  torch::nn::Linear used(8, 4), unused(8, 4);
  std::vector<at::Tensor> params = parameters_of({used, unused});
  TwoRanks world;
  // The other rank's gradients: 3 everywhere for the used layer; for the unused layer's weight, 2 (it used it), and
  // for its bias nothing (zeros, flag 0): flags arrive in the tail, whose first entries are one per parameter.
  world.other = [&](const at::Tensor& t) {
    at::Tensor theirs = at::full_like(t, 3.0);
    if (t.numel() > static_cast<int64_t>(params.size()) + 1) {  // the bucket that carries the tail: set the flags
      const int64_t flags = t.numel() - static_cast<int64_t>(params.size()) - 1;
      theirs.narrow(0, flags, static_cast<int64_t>(params.size())).fill_(1.0);
      theirs.narrow(0, flags + 3, 1).zero_();  // the unused layer's bias: the other rank did not use it either
    }
    return theirs;
  };
  mmdebias::core::GradientReducer reducer(params, /*bucket_bytes=*/1 << 20, world);
  used->forward(at::randn({2, 8})).sum().backward();  // not armed: nothing starts during backward
  CHECK(world.started.empty());
  at::Tensor extra = at::zeros({1}, at::kDouble);
  reducer.finish(extra);
  CHECK(reducer.started_during_backward() == 0);
  REQUIRE(world.started.size() == 1);  // all four parameters fit one (small) bucket
  CHECK(params[2].grad().defined());    // used by the other rank: its gradient averaged with our zeros
  CHECK(at::allclose(params[2].grad(), at::full_like(params[2], 1.5)));
  CHECK_FALSE(params[3].grad().defined());  // used by no rank: no gradient, as in one process

  // The next step starts afresh: every bucket again (here, at finish), none left over from the last step.
  for (auto& p : params) p.mutable_grad() = at::Tensor();
  world.started.clear();
  used->forward(at::randn({2, 8})).sum().backward();
  reducer.finish(extra);
  CHECK(world.started.size() == 1);
  CHECK(params[0].grad().defined());
}
