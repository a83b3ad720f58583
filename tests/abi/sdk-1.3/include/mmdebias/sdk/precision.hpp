// Mixed precision for component authors. Under run.precision=bf16|fp16 the host runs the forward and the loss hooks
// under autocast: matmuls, linear layers and convolutions then compute in bf16/fp16 (8 or 11 significant bits).
// The host hands every hook fp32 logits; terms that lose accuracy in lower precision (softmaxes and entropies, logs,
// divergences, determinants and inverses, batch statistics) are written inside a FullPrecision scope on fp32()
// inputs. Both cost nothing under run.precision=fp32.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/DispatchKeySet.h>
#include <c10/core/impl/LocalDispatchKeySet.h>

namespace mmdebias::sdk {

/// x in fp32 when it is a bf16 or fp16 tensor; otherwise x itself (fp32, fp64 and integer tensors keep their type).
inline at::Tensor fp32(const at::Tensor& x) {
  if (!x.defined()) return x;
  const auto t = x.scalar_type();
  return t == at::kBFloat16 || t == at::kHalf ? x.to(at::kFloat) : x;
}

/// Autocast off for its scope on every device, and back on after: ops inside compute in the precision of their
/// inputs, so give them fp32() inputs. Nests, and is the same scope with autocast on or off.
class FullPrecision {
 public:
  FullPrecision() = default;
  FullPrecision(const FullPrecision&) = delete;
  FullPrecision& operator=(const FullPrecision&) = delete;

 private:
  // Autocast is a dispatch key per device; excluding those keys is what autocast itself does within a cast op.
  c10::impl::ExcludeDispatchKeyGuard no_autocast_{c10::autocast_dispatch_keyset};
};

}  // namespace mmdebias::sdk
