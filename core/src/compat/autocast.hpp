// Autocast's switches, written once for both LibTorch APIs: 1.13 has one function per device (set_cpu_enabled,
// set_enabled for CUDA), 2.x one function taking the device type (the per-device ones are deprecated there).
#pragma once

#include <ATen/autocast_mode.h>

#include "compat/torch.hpp"

namespace mmdebias::core::compat {

/// Whether autocast is on for device type (CPU or CUDA).
inline bool autocast_enabled(c10::DeviceType type) {
#if MMDEBIAS_TORCH2
  return at::autocast::is_autocast_enabled(type);
#else
  return type == c10::DeviceType::CUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
#endif
}

/// Turns autocast on or off for device type (CPU or CUDA).
inline void set_autocast_enabled(c10::DeviceType type, bool on) {
#if MMDEBIAS_TORCH2
  at::autocast::set_autocast_enabled(type, on);
#else
  if (type == c10::DeviceType::CUDA) at::autocast::set_enabled(on);
  else at::autocast::set_cpu_enabled(on);
#endif
}

/// The lower precision autocast computes in on device type.
inline at::ScalarType autocast_dtype(c10::DeviceType type) {
#if MMDEBIAS_TORCH2
  return at::autocast::get_autocast_dtype(type);
#else
  return type == c10::DeviceType::CUDA ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
#endif
}

/// Sets the lower precision autocast computes in on device type.
inline void set_autocast_dtype(c10::DeviceType type, at::ScalarType dtype) {
#if MMDEBIAS_TORCH2
  at::autocast::set_autocast_dtype(type, dtype);
#else
  if (type == c10::DeviceType::CUDA) at::autocast::set_autocast_gpu_dtype(dtype);
  else at::autocast::set_autocast_cpu_dtype(dtype);
#endif
}

}  // namespace mmdebias::core::compat
