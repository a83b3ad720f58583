// MMDEBIAS_PLUGIN: the one macro that makes a shared library a plugin by exporting its entry symbol.
#pragma once

#include <cstdio>
#include <exception>

#include "mmdebias/sdk/abi.hpp"
#include "mmdebias/sdk/registrar.hpp"

namespace mmdebias::sdk::detail {

/// Runs a plugin's registration function, turning any exception into a C error code and message.
template <void (*Fn)(Registrar&)>
int register_trampoline(void* registrar, char* error, size_t error_size) noexcept {
  try {
    Fn(*static_cast<Registrar*>(registrar));
    return 0;
  } catch (const std::exception& e) {
    std::snprintf(error, error_size, "%s", e.what());
  } catch (...) {
    std::snprintf(error, error_size, "unknown exception");
  }
  return 1;
}

}  // namespace mmdebias::sdk::detail

/// Exports the plugin entry symbol. NAME, VERSION, DESCRIPTION are string literals; REGISTER is a
/// function `void(mmdebias::sdk::Registrar&)` that declares the components and does nothing else.
#define MMDEBIAS_PLUGIN(NAME, VERSION, DESCRIPTION, REGISTER)                                              \
  extern "C" __attribute__((visibility("default"))) const mmdebias_plugin_info* mmdebias_plugin_v1(void) { \
    static const mmdebias_plugin_info info = {                                                            \
        sizeof(mmdebias_plugin_info), MMDEBIAS_SDK_ABI_MAJOR, MMDEBIAS_SDK_ABI_MINOR, NAME, VERSION,     \
        DESCRIPTION, MMDEBIAS_BUILD_FINGERPRINT, &::mmdebias::sdk::detail::register_trampoline<&REGISTER>,  \
        MMDEBIAS_SDK_VERSION};                                                                            \
    return &info;                                                                                         \
  }
