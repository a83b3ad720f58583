// Internal to the a2d plugin: the weight and bias of an affine fusion head, recovered by probing it.
#pragma once

#include <string>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "mmdebias/sdk/components.hpp"

namespace mmdebias::a2d {

/// logits = x W^T + b: W [C, D], b [C], in float64.
struct AffineHead {
  at::Tensor weight;  ///< W [C, D].
  at::Tensor bias;    ///< b [C].
};

/// Recovers W and b of fusion.head on [*, dim] inputs of the given options: b = head(0), column i of W =
/// head(e_i) - b. Then checks head(x) = x W^T + b on 16 random points of the scale `scale` (a fixed local
/// generator: the run's random streams are not touched) and throws naming component when the head is not affine.
inline AffineHead affine_head(sdk::Fusion& fusion, int64_t dim, const at::TensorOptions& options, double scale,
                              const std::string& component) {
  torch::NoGradGuard no_grad;
  at::Tensor b = fusion.head(at::zeros({1, dim}, options)).to(at::kDouble);               // [1, C]
  at::Tensor w = (fusion.head(at::eye(dim, options)).to(at::kDouble) - b).t().contiguous();  // [C, D]
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(20240607);
  at::Tensor x = (at::randn({16, dim}, gen, at::TensorOptions().dtype(at::kDouble)) * scale).to(options);
  at::Tensor got = fusion.head(x).to(at::kDouble);
  at::Tensor want = x.to(at::kDouble).mm(w.t()) + b;
  const double deviation = (got - want).abs().max().item<double>();
  const double tolerance = (options.dtype() == at::kDouble ? 1e-9 : 1e-4) * (1.0 + got.abs().max().item<double>());
  if (!(deviation <= tolerance))
    throw std::invalid_argument(component + " needs an affine fusion head (logits = W x + b) to recover W and b, and this "
                                "fusion's head is not: on random points |head(x) - (W x + b)| reaches " +
                                std::to_string(deviation) + " (tolerance " + std::to_string(tolerance) +
                                "); use a fusion with a linear head (std.concat, std.late) or another scorer");
  return {w, b.view({-1})};
}

}  // namespace mmdebias::a2d
