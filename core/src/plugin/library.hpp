// One plugin binary: reading its C info struct, the handshake, and the loaded library kept alive.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "mmdebias/core/plugin_host.hpp"
#include "mmdebias/sdk/abi.hpp"

namespace mmdebias::core {

/// The host's own info (name "mmdebias"), from the headers it was compiled with.
PluginInfo host_build_info();

/// Copies a raw info struct, checking sizes and pointers; throws InputError naming path on garbage.
PluginInfo read_plugin_info(const mmdebias_plugin_info* raw, const std::filesystem::path& path);

/// Why a plugin with info may not be loaded by a host with host_info, as one line naming path; empty when it may.
std::optional<std::string> handshake_refusal(const PluginInfo& info, const PluginInfo& host_info,
                                             const std::filesystem::path& path);

/// A loaded plugin binary. Never unloaded: the handle lives until the process ends (LibTorch state makes dlclose unsafe).
class PluginLibrary {
 public:
  /// Opens path (RTLD_NOW | RTLD_LOCAL) and reads its info; runs no plugin code beyond its constructors and the
  /// entry symbol. sha256 is the digest of its bytes taken before opening (the one pins were checked against);
  /// empty: computed on first use. Throws InputError when the file cannot be opened or exports no valid entry.
  static std::shared_ptr<PluginLibrary> open(const std::filesystem::path& path, const std::string& sha256 = "");

  /// The file it was loaded from (absolute).
  const std::filesystem::path& path() const { return path_; }
  /// The plugin's declared info.
  const PluginInfo& info() const { return info_; }
  /// The raw registration function (call only after the handshake succeeded).
  mmdebias_register_fn register_fn() const { return register_fn_; }
  /// SHA-256 of the binary: the digest checked before opening, else computed on first use.
  const std::string& sha256() const;

 private:
  PluginLibrary() = default;
  std::filesystem::path path_;
  PluginInfo info_;
  mmdebias_register_fn register_fn_ = nullptr;
  std::shared_ptr<void> handle_;  // the Boost.DLL library, type-erased so this header stays light
  mutable std::string sha256_;
};

}  // namespace mmdebias::core
