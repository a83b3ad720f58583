#include "pipeline/precision.hpp"

#include "compat/autocast.hpp"
#include "mmdebias/core/errors.hpp"

namespace mmdebias::core {

Precision parse_precision(const std::string& text) {
  if (text == "fp32") return Precision::fp32;
  if (text == "bf16") return Precision::bf16;
  if (text == "fp16") return Precision::fp16;
  throw InputError("run.precision: '" + text + "' is not a precision; expected fp32, bf16 or fp16");
}

std::string precision_refusal(Precision precision, const std::string& device_text) {
  if (precision != Precision::fp16 || device_text.rfind("cuda", 0) == 0) return "";
  return "fp16 needs a GPU (run.device=cuda); on the CPU use run.precision=bf16, which autocast supports there and "
         "which needs no loss scale";
}

Precision resolve_precision(const std::string& text, c10::Device device) {
  const Precision p = parse_precision(text);
  const std::string refusal = precision_refusal(p, device.str());
  if (!refusal.empty()) throw InputError("run.precision: " + refusal);
  return p;
}

const char* precision_name(Precision precision) {
  switch (precision) {
    case Precision::bf16: return "bf16";
    case Precision::fp16: return "fp16";
    default: return "fp32";
  }
}

at::ScalarType compute_dtype(Precision precision) {
  switch (precision) {
    case Precision::bf16: return at::kBFloat16;
    case Precision::fp16: return at::kHalf;
    default: return at::kFloat;
  }
}

Autocast::Autocast(Precision precision, c10::Device device) {
  if (precision == Precision::fp32) return;
  active_ = true;
  type_ = device.type();
  was_enabled_ = compat::autocast_enabled(type_);
  was_dtype_ = compat::autocast_dtype(type_);
  compat::set_autocast_dtype(type_, compute_dtype(precision));
  compat::set_autocast_enabled(type_, true);
  at::autocast::increment_nesting();
}

Autocast::~Autocast() {
  if (!active_) return;
  compat::set_autocast_enabled(type_, was_enabled_);
  compat::set_autocast_dtype(type_, was_dtype_);
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
}

}  // namespace mmdebias::core
