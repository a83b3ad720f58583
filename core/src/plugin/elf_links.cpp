#include "plugin/elf_links.hpp"

#include <elf.h>
#include <link.h>

#include <cstring>
#include <fstream>

namespace mmdebias::core {
namespace {

// LibTorch's libraries a plugin links (mmdebias_add_plugin links all three).
constexpr const char* kTorchStems[] = {"libc10.so", "libtorch_cpu.so", "libtorch.so"};

// Reads only the parts it needs (the header, the section table, the dynamic section and its strings): LibTorch's own
// libraries, read to learn their SONAME, are hundreds of MB.
class ElfFile {
 public:
  explicit ElfFile(const std::filesystem::path& file) : in_(file, std::ios::binary) {
    std::error_code ec;
    size_ = in_ ? std::filesystem::file_size(file, ec) : 0;
    if (ec) size_ = 0;
  }
  template <typename T>
  bool read_at(uint64_t offset, T& out) { return read_bytes(offset, sizeof(T), reinterpret_cast<char*>(&out)); }
  bool read_bytes(uint64_t offset, uint64_t n, char* out) {
    if (offset > size_ || size_ - offset < n) return false;
    in_.seekg(static_cast<std::streamoff>(offset));
    return static_cast<bool>(in_.read(out, static_cast<std::streamsize>(n)));
  }

 private:
  std::ifstream in_;
  uint64_t size_ = 0;
};

// The NUL-terminated string at index of a string table (held whole: a dynamic string table is small).
std::string string_at(const std::string& table, uint64_t index) {
  if (index >= table.size()) return "";
  const char* start = table.data() + index;
  return std::string(start, strnlen(start, table.size() - index));
}

// "libc10.so.1.13" -> "libc10.so" (the stem it matches), "" for a library that is not LibTorch's.
std::string torch_stem(const std::string& name) {
  for (const char* stem : kTorchStems) {
    const size_t n = std::strlen(stem);
    if (name.compare(0, n, stem) == 0 && (name.size() == n || name[n] == '.')) return stem;
  }
  return "";
}

// What a LibTorch library's name says of its version: Debian's carry it ("libc10.so.1.13"), a wheel's or a LibTorch
// zip's do not; then the torch/version.py or build-version file beside its directory may.
std::string version_of(const std::string& soname, const std::filesystem::path& directory) {
  const size_t dot = soname.find(".so.");
  if (dot != std::string::npos) return soname.substr(dot + 4);
  std::error_code ec;
  for (const auto& file : {directory.parent_path() / "version.py", directory.parent_path() / "build-version"}) {
    if (!std::filesystem::is_regular_file(file, ec)) continue;
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
      if (file.filename() == "build-version" && !line.empty()) return line;
      // The assignment `__version__ = '2.15.0+cu132'`, not a mention such as __all__ = ['__version__', ...].
      if (line.rfind("__version__", 0) != 0 || line.find('=') == std::string::npos) continue;
      const size_t a = line.find_first_of("'\"", line.find('=')), b = a == std::string::npos ? a : line.find(line[a], a + 1);
      if (b != std::string::npos) return line.substr(a + 1, b - a - 1);
    }
  }
  return "";
}

// Where a plugin's libc10 would come from: its RUNPATH's directories ($ORIGIN expanded) that hold the file.
std::filesystem::path located(const std::string& soname, const ElfLinks& links, const std::filesystem::path& plugin) {
  std::string rest = links.runpath;
  while (!rest.empty()) {
    const size_t colon = rest.find(':');
    std::string dir = rest.substr(0, colon);
    rest = colon == std::string::npos ? "" : rest.substr(colon + 1);
    if (dir.rfind("$ORIGIN", 0) == 0) dir = plugin.parent_path().string() + dir.substr(7);
    std::error_code ec;
    if (!dir.empty() && std::filesystem::exists(std::filesystem::path(dir) / soname, ec)) return dir;
  }
  return {};
}

}  // namespace

std::optional<ElfLinks> read_elf_links(const std::filesystem::path& file) {
  ElfFile elf(file);
  Elf64_Ehdr eh;
  if (!elf.read_at(0, eh) || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
      eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_shentsize != sizeof(Elf64_Shdr))
    return std::nullopt;
  ElfLinks links;
  bool found = false;
  for (uint64_t i = 0; i < eh.e_shnum; ++i) {
    Elf64_Shdr dyn;
    if (!elf.read_at(eh.e_shoff + i * sizeof(Elf64_Shdr), dyn)) return std::nullopt;
    if (dyn.sh_type != SHT_DYNAMIC) continue;
    Elf64_Shdr strtab;
    if (!elf.read_at(eh.e_shoff + uint64_t{dyn.sh_link} * sizeof(Elf64_Shdr), strtab)) return std::nullopt;
    if (strtab.sh_size > (16u << 20) || dyn.sh_size > (16u << 20)) return std::nullopt;  // no real one is this large
    std::string strings(strtab.sh_size, '\0');
    if (!elf.read_bytes(strtab.sh_offset, strtab.sh_size, strings.data())) return std::nullopt;
    found = true;
    std::string rpath;
    for (uint64_t off = 0; off + sizeof(Elf64_Dyn) <= dyn.sh_size; off += sizeof(Elf64_Dyn)) {
      Elf64_Dyn d;
      if (!elf.read_at(dyn.sh_offset + off, d)) return std::nullopt;
      if (d.d_tag == DT_NULL) break;
      const std::string text = string_at(strings, d.d_un.d_val);
      if (d.d_tag == DT_NEEDED) links.needed.push_back(text);
      if (d.d_tag == DT_SONAME) links.soname = text;
      if (d.d_tag == DT_RUNPATH) links.runpath = text;
      if (d.d_tag == DT_RPATH) rpath = text;
    }
    if (links.runpath.empty()) links.runpath = rpath;
  }
  if (!found) return std::nullopt;
  return links;
}

const LoadedTorch& loaded_torch() {
  static const LoadedTorch torch = [] {
    LoadedTorch t;
    std::vector<std::string> paths;
    dl_iterate_phdr(
        [](dl_phdr_info* info, size_t, void* out) {
          if (info->dlpi_name && *info->dlpi_name) static_cast<std::vector<std::string>*>(out)->push_back(info->dlpi_name);
          return 0;
        },
        &paths);
    for (const std::string& p : paths) {
      const std::string name = std::filesystem::path(p).filename().string();
      const std::string stem = torch_stem(name);
      if (stem.empty()) continue;
      const auto links = read_elf_links(p);
      t.sonames.emplace_back(stem, links && !links->soname.empty() ? links->soname : name);
      if (stem == "libc10.so") t.directory = std::filesystem::path(p).parent_path().string();
    }
    return t;
  }();
  return torch;
}

std::optional<std::string> foreign_torch_refusal(const std::filesystem::path& path, const ElfLinks& links,
                                                 const LoadedTorch& host, const std::string& host_version,
                                                 const std::string& host_torch_prefix) {
  for (const std::string& needed : links.needed) {
    const std::string stem = torch_stem(needed);
    if (stem.empty()) continue;
    for (const auto& [host_stem, host_soname] : host.sonames) {
      if (host_stem != stem || host_soname == needed) continue;
      const std::filesystem::path from = located(needed, links, path);
      std::string theirs = version_of(needed, from);
      theirs = theirs.empty() ? "another LibTorch" : "LibTorch " + theirs;
      return "refused " + path.string() + ": it was built against " + theirs + " (it links " + needed +
             (from.empty() ? "" : " from " + from.string()) + "), this host runs LibTorch " + host_version + " (" +
             host_soname + " from " + host.directory + "); one process cannot hold two LibTorch builds, so it was not "
             "loaded: rebuild the plugin against the host's LibTorch (configure it with -DCMAKE_PREFIX_PATH=" + host_torch_prefix +
             ")";
    }
  }
  return std::nullopt;
}

}  // namespace mmdebias::core
