// Discovery and loading of plugins along the search path, with the status of every candidate.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>


namespace mmdebias::core {

class PluginLibrary;
class Registry;
struct CheckedFile;

/// A copy of a plugin's info struct in owned strings (safe after the library is gone).
struct PluginInfo {
  std::string name;         ///< Plugin name.
  std::string version;      ///< Plugin version.
  std::string description;  ///< One-line description.
  uint32_t abi_major = 0;   ///< SDK ABI major the plugin was built against.
  uint32_t abi_minor = 0;   ///< SDK ABI minor the plugin was built against.
  uint32_t torch_major = 0, torch_minor = 0, torch_patch = 0;  ///< LibTorch version.
  int32_t cxx11_abi = 0;    ///< _GLIBCXX_USE_CXX11_ABI.
  uint32_t cuda_version = 0;  ///< CUDA version or 0.
  std::string compiler;     ///< Compiler family.
  std::string sdk_version;  ///< SDK release the plugin was built against ("1.0.0").

  /// "SDK 1.1, LibTorch 1.13.0, CXX11 ABI 1, CPU, gcc".
  std::string fingerprint_text() const;
  /// The LibTorch version, "major.minor.patch".
  std::string torch_version() const;
};

/// What became of one plugin file found on the search path.
struct PluginStatus {
  std::filesystem::path path;  ///< The file.
  PluginInfo info;             ///< Its info (empty name when it could not be read).
  std::string sha256;          ///< SHA-256 of its bytes, read before it was opened (empty when unread).
  bool opened = false;         ///< Handed to dlopen: its constructors may have run, whatever became of it.
  bool loaded = false;         ///< True when its components are registered.
  bool skipped = false;        ///< Not loaded, and no refusal: another file of its plugin was given with --plugin-path.
  std::string reason;          ///< Why it was refused or skipped, when not loaded.
  std::vector<std::string> components;  ///< Full names it registered.
};

/// Where plugins are searched, in order: --plugin-path, MMDEBIAS_PLUGIN_PATH, manifest plugin paths, the install dir.
struct SearchPath {
  std::vector<std::filesystem::path> cli;       ///< From --plugin-path.
  std::vector<std::filesystem::path> env;       ///< From MMDEBIAS_PLUGIN_PATH (':'-separated).
  std::vector<std::filesystem::path> manifest;  ///< From the manifest's plugins.paths.
  std::vector<std::filesystem::path> builtin;   ///< The shipped plugins' directory.
  /// --trusted-plugins-only: the manifest's entries are not searched (only what the user named, and the install dir).
  bool trusted_only = false;

  /// The directories in search order, duplicates removed (without the manifest's under trusted_only).
  std::vector<std::filesystem::path> ordered() const;
  /// Splits a ':'-separated list (empty entries ignored).
  static std::vector<std::filesystem::path> split(const std::string& list);
  /// The shipped plugins' directory next to the running executable (<exe>/../lib/mmdebias/plugins).
  static std::filesystem::path builtin_dir();
};

/// A candidate plugin file and how the search path reached it.
struct PluginCandidate {
  std::filesystem::path path;  ///< The file, as found.
  bool direct = false;         ///< Given as a file (not a directory) with --plugin-path: chosen over other files of its plugin.
};

/// The candidate plugin files of a search path, in search order, each file once (what PluginHost::load considers).
std::vector<PluginCandidate> plugin_files(const SearchPath& search);

/// Loads every plugin found on a search path into one registry.
class PluginHost {
 public:
  /// An empty host: no plugin loaded.
  PluginHost();
  ~PluginHost();
  /// Movable (the registry lives behind a pointer so this header stays a facade).
  PluginHost(PluginHost&&) noexcept;
  /// Discovers files named mmdebias-*.so in each directory (or given directly as files), hashes each and checks
  /// it against the sha256 pins (key K pins the file mmdebias-K.so; hex digest in either case) before any is
  /// opened, then opens them, applies the handshake and registers the accepted ones. Throws InputErrors, having
  /// opened nothing, when a file given directly is not named mmdebias-*.so or a pinned file does not match.
  /// A plugin name provided by several files is an InputErrors naming them all (thrown once every file is listed
  /// in statuses()), unless one was given directly with --plugin-path: the others are then skipped (see
  /// core/src/plugin/duplicates.hpp).
  void load(const SearchPath& search, const std::map<std::string, std::string>& sha256_pins = {});
  /// As load, but a plugin name provided by several files is only a refusal of each in statuses() (for
  /// `mmdebias plugins`, which lists everything before it exits 2).
  void load_for_listing(const SearchPath& search, const std::map<std::string, std::string>& sha256_pins = {});

  /// Status of every candidate file, in search order.
  const std::vector<PluginStatus>& statuses() const { return statuses_; }
  /// The registry of all accepted plugins' components.
  const Registry& registry() const { return *registry_; }
  /// The loaded plugin called name, or nullptr.
  std::shared_ptr<PluginLibrary> plugin(const std::string& name) const;
  /// The reason of every file that was refused, one line each, each distinct line once (empty when none was).
  std::vector<std::string> refusals() const;
  /// "FILE skipped: plugin 'x' is taken from ..." for every skipped file (notes, not errors).
  std::vector<std::string> skips() const;

 private:
  void load_files(const std::vector<PluginCandidate>& candidates, const std::vector<CheckedFile>& files);
  void register_file(const std::shared_ptr<PluginLibrary>& plugin, PluginStatus& status);
  void note_unsearched(const std::vector<std::filesystem::path>& manifest_paths);
  void note_missing_pins(const std::vector<CheckedFile>& files, const std::map<std::string, std::string>& pins);
  std::unique_ptr<Registry> registry_;
  std::vector<PluginStatus> statuses_;
  std::map<std::string, std::shared_ptr<PluginLibrary>> loaded_;
  std::vector<std::string> conflicts_;  // one error per plugin name provided by several files
};

}  // namespace mmdebias::core
