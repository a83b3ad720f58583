// Shared by the method plugins' test_precision.cpp: inputs that bf16 holds exactly, bf16 autocast on the CPU as the
// host runs it (core::Autocast), and the errors the tests bound.
//
// The tolerances the tests state come from bf16's 8 significant bits: one rounding to bf16 moves a value by at most
// 2^-9 ≈ 0.2% of it (the spacing is 2^-8 ≈ 0.4%). A term computed in fp32 from inputs bf16 holds exactly differs from
// the fp32 run only by fp32 rounding (~1e-7 relative); where the method runs model parts (heads, an MLP) inside its
// term, those run in bf16 under autocast like the forward, and their rounding shows in the term.
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "pipeline/precision.hpp"

namespace prectest {

/// Seeded normal numbers of the given shape times scale, rounded to the nearest bf16 value, in fp32: the fp32 run
/// and the bf16 run then start from the same numbers.
inline at::Tensor seeded(std::vector<int64_t> shape, uint64_t seed, double scale = 1.0) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return (at::randn(shape, gen, at::TensorOptions().dtype(at::kFloat)) * scale).to(at::kBFloat16).to(at::kFloat);
}

/// ||got − want|| / ||want|| in float64 (|got − want| / |want| for scalars); 0 when both are 0.
inline double relative_error(const at::Tensor& got, const at::Tensor& want) {
  const at::Tensor g = got.detach().to(at::kDouble), w = want.detach().to(at::kDouble);
  const double den = w.norm().item<double>(), num = (g - w).norm().item<double>();
  return den > 0 ? num / den : num;
}

/// Autocast in bf16 on the CPU for its scope, as the host does under run.precision=bf16.
struct Bf16 {
  mmdebias::core::Autocast autocast{mmdebias::core::Precision::bf16, c10::Device(c10::kCPU)};
};

}  // namespace prectest
