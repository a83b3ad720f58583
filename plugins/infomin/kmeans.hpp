// K-means for ATE-D's substitute confounders: k-means++ seeding from a given generator, then Lloyd steps.
// Header-only so the method's tests can pin it directly.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include <ATen/ATen.h>

#include "mmdebias/sdk/precision.hpp"

namespace mmdebias::infomin {

/// Squared Euclidean distances [n, k] between the rows of x [n, d] and of centroids [k, d], in fp32 (or float64)
/// under every precision: the expansion |x|² − 2 x·c + |c|² cancels, and a bf16 x·c would misassign near rows.
inline at::Tensor squared_distances(const at::Tensor& x_in, const at::Tensor& centroids_in) {
  sdk::FullPrecision full;
  const at::Tensor x = sdk::fp32(x_in), centroids = sdk::fp32(centroids_in);
  at::Tensor d2 = x.pow(2).sum(1, true) - 2 * x.mm(centroids.t()) + centroids.pow(2).sum(1).unsqueeze(0);
  return d2.clamp_min(0);
}

/// Index [n] of the nearest centroid of each row of x (ties go to the lower index).
inline at::Tensor nearest_centroid(const at::Tensor& x, const at::Tensor& centroids) {
  return squared_distances(x, centroids).argmin(1);
}

/// K centroids [k, d] of the rows of x [n, d]: k-means++ seeding drawn from gen (the first centre uniform,
/// each next one with probability ∝ squared distance to the nearest chosen centre), then at most
/// `iterations` Lloyd steps, stopping when no assignment changes. An emptied cluster keeps its centre.
/// Deterministic given x, k, iterations and the generator's state.
inline at::Tensor kmeans(const at::Tensor& x, int64_t k, int64_t iterations, at::Generator gen) {
  const int64_t n = x.size(0);
  if (k < 1 || n < k)
    throw std::invalid_argument("k-means needs 1 <= k <= n, got k = " + std::to_string(k) + " and n = " + std::to_string(n));
  at::Tensor centroids = at::empty({k, x.size(1)}, x.options());
  int64_t first = at::randint(n, {1}, gen, at::TensorOptions().dtype(at::kLong)).item<int64_t>();
  centroids[0].copy_(x[first]);
  at::Tensor d2 = squared_distances(x, centroids.narrow(0, 0, 1)).squeeze(1);
  for (int64_t j = 1; j < k; ++j) {
    int64_t pick;
    if (d2.sum().item<double>() > 0) {
      pick = at::multinomial(d2.to(at::kDouble), 1, false, gen).item<int64_t>();
    } else {  // every row coincides with a chosen centre: any row will do
      pick = at::randint(n, {1}, gen, at::TensorOptions().dtype(at::kLong)).item<int64_t>();
    }
    centroids[j].copy_(x[pick]);
    d2 = at::minimum(d2, squared_distances(x, centroids.narrow(0, j, 1)).squeeze(1));
  }
  at::Tensor assignment = nearest_centroid(x, centroids);
  for (int64_t it = 0; it < iterations; ++it) {
    at::Tensor sums = at::zeros_like(centroids).index_add_(0, assignment, x);
    at::Tensor counts = at::bincount(assignment, {}, k).to(x.scalar_type()).unsqueeze(1);
    centroids = at::where(counts > 0, sums / counts.clamp_min(1), centroids);
    at::Tensor next = nearest_centroid(x, centroids);
    bool settled = next.equal(assignment);
    assignment = next;
    if (settled) break;
  }
  return centroids;
}

}  // namespace mmdebias::infomin
