// What a shared library links, read from its ELF dynamic section without loading it: a plugin built against another
// LibTorch must be refused before dlopen, because loading it would bring a second LibTorch into the process.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace mmdebias::core {

/// The dynamic section's names: DT_NEEDED libraries, DT_SONAME, DT_RUNPATH/DT_RPATH.
struct ElfLinks {
  std::vector<std::string> needed;  ///< Libraries it links, as written ("libc10.so.1.13").
  std::string soname;               ///< Its own SONAME; empty when it has none.
  std::string runpath;              ///< RUNPATH (else RPATH), ':'-separated, $ORIGIN unexpanded.
};

/// Reads a 64-bit little-endian ELF file's dynamic section; nullopt for anything else or a malformed file (every
/// offset is bounds-checked: a corrupt file cannot crash the reader).
std::optional<ElfLinks> read_elf_links(const std::filesystem::path& file);

/// LibTorch's libraries as this process loaded them: stem ("libc10.so") -> the loaded file's SONAME.
struct LoadedTorch {
  std::vector<std::pair<std::string, std::string>> sonames;  ///< ("libc10.so", "libc10.so.1.13"), ...
  std::string directory;                                      ///< Where the loaded libc10 lives.
};

/// The LibTorch this process runs (found among its loaded libraries).
const LoadedTorch& loaded_torch();

/// Why the library at path (linking links) may not be loaded into a process running host, naming both LibTorch
/// builds and the rebuild; nullopt when its LibTorch libraries are the host's. host_version is e.g. "2.15.0",
/// host_torch_prefix the CMake prefix holding the host's LibTorch package.
std::optional<std::string> foreign_torch_refusal(const std::filesystem::path& path, const ElfLinks& links,
                                                 const LoadedTorch& host, const std::string& host_version,
                                                 const std::string& host_torch_prefix);

}  // namespace mmdebias::core
