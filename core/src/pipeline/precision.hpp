// run.precision: the dtype the forward and the loss hooks compute in (autocast), and what goes with it. Parameters,
// gradients, optimizer state and the logits every hook receives stay fp32 under every precision.
#pragma once

#include <string>

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

namespace mmdebias::core {

/// What run.precision names.
enum class Precision { fp32, bf16, fp16 };

/// run.precision's text: InputError for a name that is none.
Precision parse_precision(const std::string& text);

/// Why precision cannot run on a device named device_text (run.device: "cpu", "cuda", "cuda:N"), or "" when it can:
/// fp16 on the CPU. `validate` reports it at run.precision's line; resolve_precision throws it.
std::string precision_refusal(Precision precision, const std::string& device_text);

/// run.precision on device: InputError for a name that is none, and for fp16 on the CPU (autocast has no fp16 there
/// in Debian's LibTorch, and where it has one it is slower than bf16 and needs a loss scale for nothing).
Precision resolve_precision(const std::string& text, c10::Device device);

/// The name run.precision uses for precision.
const char* precision_name(Precision precision);

/// The dtype autocast computes matmuls and convolutions in (fp32 for Precision::fp32).
at::ScalarType compute_dtype(Precision precision);

/// Autocast on device's type in precision's dtype for its scope, and as it was after (a no-op for fp32). Nests: the
/// outermost scope drops the cache of cast weights on exit, so a cast never outlives the optimizer step that
/// changes its weight.
class Autocast {
 public:
  Autocast(Precision precision, c10::Device device);
  ~Autocast();
  Autocast(const Autocast&) = delete;
  Autocast& operator=(const Autocast&) = delete;

 private:
  bool active_ = false;
  c10::DeviceType type_ = c10::DeviceType::CPU;
  bool was_enabled_ = false;
  at::ScalarType was_dtype_ = at::kFloat;
};

}  // namespace mmdebias::core
