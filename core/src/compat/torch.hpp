// Every difference between the LibTorch builds mmdebias supports (Debian's 1.13, upstream 2.x) lives here, so the
// rest of core is written once. Add to this header rather than put a version test anywhere else.
#pragma once

#include <cstddef>

#include <c10/core/Allocator.h>
#include <torch/version.h>

/// True when building against LibTorch 2.x or newer.
#define MMDEBIAS_TORCH2 (TORCH_VERSION_MAJOR >= 2)

namespace mmdebias::core::compat {

/// Whether a run keeps freed step buffers in the process (glibc's mmap and trim thresholds raised) rather than glibc
/// unmapping them and the next step faulting them in again. Measured on the GEMM-bound step (docs/benchmarks.md,
/// "The allocator"): with the torch 2.x wheel (MKL) +5-13% samples per CPU second, peak RSS 2.0x the `validate --cost`
/// estimate (cli.validate_cost allows 3x); with Debian's 1.13 (OpenBLAS) no gain beyond noise, and RSS past 3x.
inline constexpr bool kKeepFreedStepBuffers = MMDEBIAS_TORCH2;

/// A CPU allocator written once for both APIs: 2.x made c10::Allocator::allocate non-const and added copy_data.
class Allocator : public c10::Allocator {
 public:
  /// Allocates n bytes; what c10's allocate() does.
  virtual c10::DataPtr allocate_bytes(size_t n) = 0;

#if MMDEBIAS_TORCH2
  c10::DataPtr allocate(size_t n) override { return allocate_bytes(n); }
  void copy_data(void* dest, const void* src, std::size_t count) const override { default_copy_data(dest, src, count); }
#else
  // 1.13's allocate is const; ours keep their counters in mutable or atomic state.
  c10::DataPtr allocate(size_t n) const override { return const_cast<Allocator*>(this)->allocate_bytes(n); }
#endif
};

}  // namespace mmdebias::core::compat
