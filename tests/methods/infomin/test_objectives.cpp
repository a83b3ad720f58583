// The formulas of CausalInfoMin as plain functions (plugins/infomin/objectives.hpp, kmeans.hpp): the coding
// rate R, κ, the contrastive term, the 2-rank coding rate, and K-means.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <doctest/doctest.h>

#include "../../../plugins/infomin/kmeans.hpp"
#include "../../../plugins/infomin/objectives.hpp"
#include "infomin_helpers.hpp"

namespace im = mmdebias::infomin;
using infomintest::TestContext;

TEST_CASE("R(0) = 0 for any batch size and width") {
  for (int64_t m : {1, 5, 64})
    for (int64_t p : {1, 4, 16}) CHECK(im::coding_rate(at::zeros({m, p}, at::kDouble), 0.01).item<double>() == doctest::Approx(0.0));
}

TEST_CASE("R grows strictly with the rank of Z and matches the closed form for orthogonal columns") {
  at::manual_seed(7);
  const int64_t m = 32, p = 8;
  at::Tensor full = at::randn({m, p}, at::kDouble);
  double previous = 0;
  for (int64_t k = 1; k <= p; ++k) {  // the first k columns kept: rank k
    at::Tensor z = at::zeros_like(full);
    z.narrow(1, 0, k).copy_(full.narrow(1, 0, k));
    double r = im::coding_rate(z, 0.01).item<double>();
    CHECK(r > previous + 1e-3);
    previous = r;
  }
  // Z = sqrt(m) Q with orthonormal columns: ZᵀZ = m I, so R = p/2 log(1 + p/ε²).
  at::Tensor q = std::get<0>(at::linalg_qr(at::randn({m, p}, at::kDouble)));
  at::Tensor z = q * std::sqrt(static_cast<double>(m));
  CHECK(im::coding_rate(z, 0.01).item<double>() == doctest::Approx(p / 2.0 * std::log(1 + p / 0.01)).epsilon(1e-12));
}

TEST_CASE("kappa is at most 1 and equals |c CE / R| below 1 and is 1 when R = 0") {
  for (double ce : {0.0, 0.01, 1.0, 2.3, 50.0})
    for (double rate : {-3.0, 1e-9, 0.5, 10.0, 1e4}) {
      double k = im::dynamic_kappa(0.25, ce, rate);
      CHECK(k <= 1.0);
      CHECK(k >= 0.0);
      double raw = std::abs(0.25 * ce / rate);
      if (raw < 1) CHECK(k == doctest::Approx(raw));
    }
  CHECK(im::dynamic_kappa(0.25, 2.0, 0.0) == 1.0);
}

TEST_CASE("contrastive term is the row mean of softplus((cos(x n) − cos(x p)) / τ)") {
  at::Tensor x = at::tensor({1.0, 0.0, 0.0, 2.0}, at::kDouble).reshape({2, 2});
  // Row 0: positive = x (cos 1), negative = −x (cos −1); row 1: positive ⟂ x (cos 0), negative = x (cos 1).
  at::Tensor pos = at::tensor({3.0, 0.0, 5.0, 0.0}, at::kDouble).reshape({2, 2});
  at::Tensor neg = at::tensor({-1.0, 0.0, 0.0, 1.0}, at::kDouble).reshape({2, 2});
  for (double tau : {0.5, 1.0}) {
    double want = (std::log1p(std::exp(-2 / tau)) + std::log1p(std::exp(1 / tau))) / 2;
    CHECK(im::contrastive_loss(x, pos, neg, tau).item<double>() == doctest::Approx(want).epsilon(1e-12));
  }
}

TEST_CASE("2-rank coding rate has the value and the world-scaled gradient of one process holding both halves") {
  at::manual_seed(3);
  at::Tensor a = at::randn({5, 4}, at::kDouble).requires_grad_(true), b = at::randn({3, 4}, at::kDouble);
  TestContext ctx;
  ctx.world_ = 2;
  ctx.others = {b.t().mm(b), at::full({1}, 3.0, at::kDouble)};  // the other rank's Gram matrix and row count
  at::Tensor r = im::distributed_coding_rate(a, 0.01, ctx);
  at::Tensor whole = at::cat({a.detach(), b}).requires_grad_(true);
  at::Tensor rw = im::coding_rate(whole, 0.01);
  CHECK(r.item<double>() == doctest::Approx(rw.item<double>()).epsilon(1e-12));
  r.backward();
  rw.backward();
  // The host averages gradients over 2 ranks, so each rank's gradient is twice its share of the whole one.
  CHECK(infomintest::max_rel_diff(a.grad(), 2 * whole.grad().narrow(0, 0, 5)) < 1e-10);
}

TEST_CASE("k-means is deterministic for a seed and recovers well-separated clusters") {
  at::manual_seed(11);
  at::Tensor centres = at::tensor({0.0, 0.0, 10.0, 0.0, 0.0, 10.0}, at::kDouble).reshape({3, 2});
  at::Tensor x = centres.repeat_interleave(20, 0) + 0.1 * at::randn({60, 2}, at::kDouble);
  auto run = [&](uint64_t seed) { return im::kmeans(x, 3, 50, at::make_generator<at::CPUGeneratorImpl>(seed)); };
  at::Tensor c1 = run(5), c2 = run(5);
  CHECK(c1.equal(c2));
  // Every true centre has a fitted centroid within 0.1, whatever the seed.
  for (uint64_t seed : {1u, 2u, 3u}) {
    at::Tensor c = run(seed);
    at::Tensor d = std::get<0>(im::squared_distances(centres, c).min(1)).sqrt();
    CHECK(d.max().item<double>() < 0.1);
  }
  CHECK_THROWS_WITH_AS(im::kmeans(x.narrow(0, 0, 2), 3, 5, at::make_generator<at::CPUGeneratorImpl>(1)),
                       doctest::Contains("1 <= k <= n"), std::invalid_argument);
}
