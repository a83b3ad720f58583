// The C layer of the plugin boundary: the one struct a plugin exports, readable by any host.
// Nothing here may change within SDK ABI major 1; new fields go at the end and raise struct_size.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <torch/version.h>

/// SDK ABI major version: a host refuses a plugin whose major differs.
#define MMDEBIAS_SDK_ABI_MAJOR 1
/// SDK ABI minor version: a host refuses a plugin built against a newer minor than its own.
#define MMDEBIAS_SDK_ABI_MINOR 3
/// The SDK release, "major.minor.patch": "1.0.0" is SDK 1.0 final, the first whose interfaces are promised stable;
/// "1.1.0" added Context::metric(name, tensor) (a virtual at the end of the host-implemented Context) and precision.hpp
/// (sdk::fp32, sdk::FullPrecision: inline, header only); "1.2.0" added metric sinks: sink.hpp (MetricSink, SinkStart,
/// SinkRecord, SinkScalar), ComponentKind::Sink (last), SinkFactory and Registrar::add_sink (a virtual at the end of
/// the host-implemented Registrar); "1.3.0" added the capability name capability::kIndependentModalityHeads (a
/// component that needs it is refused by an older host, which cannot derive it).
#define MMDEBIAS_SDK_VERSION "1.3.0"
/// Name of the one C symbol every plugin exports.
#define MMDEBIAS_PLUGIN_ENTRY_SYMBOL "mmdebias_plugin_v1"

#ifndef MMDEBIAS_CUDA_VERSION
/// CUDA version the plugin's LibTorch was built with (e.g. 12010), 0 for a CPU build; set by CMake.
#define MMDEBIAS_CUDA_VERSION 0
#endif

extern "C" {

/// What a plugin was compiled against; the host requires every field to equal its own.
struct mmdebias_build_fingerprint {
  uint32_t torch_major;     ///< LibTorch major version.
  uint32_t torch_minor;     ///< LibTorch minor version.
  uint32_t torch_patch;     ///< LibTorch patch version.
  int32_t cxx11_abi;        ///< Value of _GLIBCXX_USE_CXX11_ABI (0 or 1).
  uint32_t cuda_version;    ///< CUDA version, or 0 for a CPU-only LibTorch.
  const char* compiler;     ///< Compiler family: "gcc", "clang" or "msvc".
};

/// Registration function: adds the plugin's components to the registrar (a mmdebias::sdk::Registrar*).
/// Returns 0 on success; otherwise writes a message of at most error_size bytes into error.
typedef int (*mmdebias_register_fn)(void* registrar, char* error, size_t error_size);

/// The struct returned by the plugin's entry symbol. Static, constant; reading it runs no plugin code.
struct mmdebias_plugin_info {
  uint32_t struct_size;                     ///< sizeof(mmdebias_plugin_info) as the plugin saw it.
  uint32_t abi_major;                       ///< MMDEBIAS_SDK_ABI_MAJOR of the plugin's SDK.
  uint32_t abi_minor;                       ///< MMDEBIAS_SDK_ABI_MINOR of the plugin's SDK.
  const char* name;                         ///< Plugin name, the prefix of its components ("std").
  const char* version;                      ///< Plugin version string ("1.2.0").
  const char* description;                  ///< One-line description.
  mmdebias_build_fingerprint fingerprint;   ///< What the plugin was built against.
  mmdebias_register_fn register_components; ///< Called only after the handshake succeeded.
  const char* sdk_version;                  ///< MMDEBIAS_SDK_VERSION of the plugin's SDK (absent before 1.0 final).
};

/// Signature of the entry symbol.
typedef const mmdebias_plugin_info* (*mmdebias_plugin_entry_fn)(void);

}  // extern "C"

/// Compiler family of the current translation unit.
#if defined(__clang__)
#define MMDEBIAS_COMPILER_FAMILY "clang"
#elif defined(__GNUC__)
#define MMDEBIAS_COMPILER_FAMILY "gcc"
#elif defined(_MSC_VER)
#define MMDEBIAS_COMPILER_FAMILY "msvc"
#else
#define MMDEBIAS_COMPILER_FAMILY "unknown"
#endif

#ifdef _GLIBCXX_USE_CXX11_ABI
/// The libstdc++ string/list ABI of the current translation unit.
#define MMDEBIAS_CXX11_ABI _GLIBCXX_USE_CXX11_ABI
#else
#define MMDEBIAS_CXX11_ABI 1
#endif

/// The fingerprint of the current translation unit, as a brace initializer.
#define MMDEBIAS_BUILD_FINGERPRINT                                                   \
  {TORCH_VERSION_MAJOR, TORCH_VERSION_MINOR, TORCH_VERSION_PATCH, MMDEBIAS_CXX11_ABI, \
   MMDEBIAS_CUDA_VERSION, MMDEBIAS_COMPILER_FAMILY}
