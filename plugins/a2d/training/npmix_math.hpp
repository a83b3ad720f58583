// Internal to the a2d plugin (also included by its tests): NP-Mix's class queues, neighbour classes, the
// random draw and the outlier synthesis as pure functions, so a test can inject a fixed draw.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

#include <ATen/ATen.h>

namespace mmdebias::a2d {

/// Puts detached features z [N, D] with labels y [N] into per-class queues [C, Q, D] in batch order.
/// While some queue has fewer than Q entries (counts [C] < Q), samples go to the next free slot of their
/// class and samples of a full class are dropped; once every queue is full, each queue is first-in
/// first-out (its oldest entries leave). This is the release's data_dict / number_dict logic.
inline void enqueue(at::Tensor& queues, at::Tensor& counts, const at::Tensor& z, const at::Tensor& y) {
  const int64_t classes = queues.size(0), q = queues.size(1);
  const bool full = counts.min().item<int64_t>() >= q;
  at::Tensor labels = y.to(at::kLong);
  at::Tensor values = z.detach().to(queues.scalar_type());
  for (int64_t c = 0; c < classes; ++c) {
    at::Tensor rows = values.index({labels == c});
    const int64_t n = rows.size(0);
    if (n == 0) continue;
    at::Tensor queue = queues[c];
    if (full) {
      if (n >= q) {
        queue.copy_(rows.narrow(0, n - q, q));
      } else {
        at::Tensor kept = queue.narrow(0, n, q - n).clone();
        queue.narrow(0, 0, q - n).copy_(kept);
        queue.narrow(0, q - n, n).copy_(rows);
      }
    } else {
      const int64_t have = counts[c].item<int64_t>(), take = std::min(n, q - have);
      if (take <= 0) continue;
      queue.narrow(0, have, take).copy_(rows.narrow(0, 0, take));
      counts[c] += take;
    }
  }
}

/// For each class, the classes a neighbour is drawn from: the release queries a KD-tree for the nn_k
/// nearest class means (Euclidean), which include the class itself at distance 0, and drops the first;
/// so the candidates are the min(nn_k, C) - 1 nearest *other* classes, nearest first: [C, min(nn_k, C) - 1].
inline at::Tensor neighbour_candidates(const at::Tensor& means, int64_t nn_k) {
  const int64_t classes = means.size(0), k = std::min(nn_k, classes) - 1;
  if (k < 1) throw std::invalid_argument("NP-Mix needs at least one neighbour class (nn_k >= 2 and at least 2 classes)");
  at::Tensor m = means.to(at::kDouble);
  at::Tensor d = at::cdist(m, m);
  d.fill_diagonal_(std::numeric_limits<double>::infinity());  // never the class itself
  return std::get<1>(d.sort(/*stable=*/true, /*dim=*/1, /*descending=*/false)).narrow(1, 0, k);
}

/// One NP-Mix draw: for class i, outlier_i = lambda_i * queue[i][first_i] + (1 - lambda_i) * queue[neighbour_i][second_i].
struct NpmixDraw {
  at::Tensor first;      ///< [C] int64: the entry of the class's own queue.
  at::Tensor neighbour;  ///< [C] int64: the neighbour class (never the class itself).
  at::Tensor second;     ///< [C] int64: the entry of the neighbour's queue.
  at::Tensor lambda;     ///< [C] double: the mixing weight, Beta(alpha, alpha).
};

/// Draws from generator: first and second uniform over the Q entries, the neighbour uniform over the
/// candidates, lambda = X / (X + Y) with X, Y ~ Gamma(alpha) (a Beta(alpha, alpha) draw).
inline NpmixDraw draw_npmix(const at::Tensor& candidates, int64_t queue_size, double alpha, at::Generator& generator) {
  const int64_t classes = candidates.size(0), k = candidates.size(1);
  const at::TensorOptions longs = at::TensorOptions().dtype(at::kLong);
  NpmixDraw draw;
  draw.first = at::randint(queue_size, {classes}, generator, longs);
  at::Tensor pick = at::randint(k, {classes, 1}, generator, longs);
  draw.neighbour = candidates.to(at::kCPU).gather(1, pick).view({classes});
  draw.second = at::randint(queue_size, {classes}, generator, longs);
  at::Tensor shape = at::full({2, classes}, alpha, at::TensorOptions().dtype(at::kDouble));
  at::Tensor gamma = at::_standard_gamma(shape, generator);
  draw.lambda = gamma[0] / (gamma[0] + gamma[1]);
  return draw;
}

/// The outliers [C, D] of a draw from queues [C, Q, D] (in the queues' dtype and device).
inline at::Tensor synthesize(const at::Tensor& queues, const NpmixDraw& draw) {
  const at::Device dev = queues.device();
  at::Tensor own = at::arange(queues.size(0), at::TensorOptions().dtype(at::kLong).device(dev));
  at::Tensor a = queues.index({own, draw.first.to(dev)});
  at::Tensor b = queues.index({draw.neighbour.to(dev), draw.second.to(dev)});
  at::Tensor lambda = draw.lambda.to(queues.options()).unsqueeze(1);
  return lambda * a + (1 - lambda) * b;
}

}  // namespace mmdebias::a2d
