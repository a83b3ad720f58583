#include "plugin/library.hpp"

#include <cstddef>

#include <boost/dll/shared_library.hpp>

#include <cctype>
#include <cstring>
#include <mutex>
#include <vector>

#include "common/sha256.hpp"
#include "plugin/elf_links.hpp"
#include "mmdebias/core/errors.hpp"

namespace mmdebias::core {
namespace {

// Bounded, NUL-terminated, printable: a field a garbage struct cannot turn into a crash or a screenful.
std::string read_string(const char* s, const char* field, const std::filesystem::path& path, size_t limit) {
  if (!s) throw InputError("refused " + path.string() + ": its plugin info has no " + field + " (null pointer); the entry symbol is corrupt — rebuild it with the SDK's MMDEBIAS_PLUGIN macro");
  size_t n = strnlen(s, limit + 1);
  if (n > limit) throw InputError("refused " + path.string() + ": its plugin " + field + " is longer than " + std::to_string(limit) + " characters; the entry symbol is corrupt");
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 && c != '\t') throw InputError("refused " + path.string() + ": its plugin " + field + " holds control characters; the entry symbol is corrupt");
  }
  return std::string(s, n);
}

std::string cuda_text(uint32_t v) {
  return v == 0 ? "CPU" : "CUDA " + std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10);
}

// Libraries are opened once and never closed: LibTorch's static state makes dlclose unsafe.
// The list keeps them reachable (so leak checkers stay quiet) for the life of the process.
std::vector<boost::dll::shared_library*>& kept_libraries() {
  static auto* kept = new std::vector<boost::dll::shared_library*>();
  return *kept;
}
std::mutex kept_mutex;

}  // namespace

std::string PluginInfo::torch_version() const {
  return std::to_string(torch_major) + "." + std::to_string(torch_minor) + "." + std::to_string(torch_patch);
}

std::string PluginInfo::fingerprint_text() const {
  return "SDK " + std::to_string(abi_major) + "." + std::to_string(abi_minor) + ", LibTorch " + torch_version() +
         ", CXX11 ABI " + std::to_string(cxx11_abi) + ", " + cuda_text(cuda_version) + ", " + compiler;
}

PluginInfo host_build_info() {
  static const mmdebias_build_fingerprint fp = MMDEBIAS_BUILD_FINGERPRINT;
  PluginInfo info;
  info.name = "mmdebias";
  info.abi_major = MMDEBIAS_SDK_ABI_MAJOR;
  info.abi_minor = MMDEBIAS_SDK_ABI_MINOR;
  info.sdk_version = MMDEBIAS_SDK_VERSION;
  info.torch_major = fp.torch_major;
  info.torch_minor = fp.torch_minor;
  info.torch_patch = fp.torch_patch;
  info.cxx11_abi = fp.cxx11_abi;
  info.cuda_version = fp.cuda_version;
  info.compiler = fp.compiler;
  return info;
}

PluginInfo read_plugin_info(const mmdebias_plugin_info* raw, const std::filesystem::path& path) {
  if (!raw) throw InputError("refused " + path.string() + ": its entry symbol " MMDEBIAS_PLUGIN_ENTRY_SYMBOL " returned null");
  // Pre-release 1.0 plugins end their info before sdk_version; their interfaces differ from 1.0 final's (hook 7,
  // Context), so calling into them would be undefined: refuse them by the size they report.
  if (raw->struct_size == offsetof(mmdebias_plugin_info, sdk_version))
    throw InputError("refused " + path.string() + ": it was built against a pre-release SDK 1.0; rebuild it against SDK 1.0 final (" +
                     std::string(MMDEBIAS_SDK_VERSION) + "); docs/plugin-guide.md, \"Migrating from the pre-release SDK\", lists what changed");
  if (raw->struct_size < sizeof(mmdebias_plugin_info))
    throw InputError("refused " + path.string() + ": its plugin info is " + std::to_string(raw->struct_size) +
                     " bytes, smaller than the " + std::to_string(sizeof(mmdebias_plugin_info)) +
                     " bytes of SDK 1.x; the entry symbol is corrupt or from an unknown SDK");
  PluginInfo info;
  info.abi_major = raw->abi_major;
  info.abi_minor = raw->abi_minor;
  info.name = read_string(raw->name, "name", path, 64);
  info.version = read_string(raw->version, "version", path, 64);
  info.description = read_string(raw->description, "description", path, 512);
  info.torch_major = raw->fingerprint.torch_major;
  info.torch_minor = raw->fingerprint.torch_minor;
  info.torch_patch = raw->fingerprint.torch_patch;
  info.cxx11_abi = raw->fingerprint.cxx11_abi;
  info.cuda_version = raw->fingerprint.cuda_version;
  info.compiler = read_string(raw->fingerprint.compiler, "compiler", path, 32);
  info.sdk_version = read_string(raw->sdk_version, "sdk_version", path, 32);
  if (info.name.empty()) throw InputError("refused " + path.string() + ": its plugin name is empty");
  for (char c : info.name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'))
      throw InputError("refused " + path.string() + ": plugin name '" + info.name + "' may hold only letters, digits, '_' and '-'");
  if (!raw->register_components) throw InputError("refused " + path.string() + ": its plugin info has no registration function");
  return info;
}

std::optional<std::string> handshake_refusal(const PluginInfo& p, const PluginInfo& h, const std::filesystem::path& path) {
  const std::string head = "refused " + path.string() + " (plugin '" + p.name + "'): ";
  auto sdk = [](uint32_t major, uint32_t minor) { return std::to_string(major) + "." + std::to_string(minor); };
  if (p.abi_major != h.abi_major)
    return head + "built against SDK ABI " + sdk(p.abi_major, p.abi_minor) + ", this host has SDK ABI " +
           sdk(h.abi_major, h.abi_minor) + "; rebuild the plugin against SDK " + std::to_string(h.abi_major) + ".x";
  if (p.abi_minor > h.abi_minor)
    return head + "built against SDK ABI " + sdk(p.abi_major, p.abi_minor) + ", newer than this host's SDK ABI " +
           sdk(h.abi_major, h.abi_minor) + "; upgrade mmdebias or rebuild the plugin against SDK " + sdk(h.abi_major, h.abi_minor);
  if (p.torch_version() != h.torch_version())
    return head + "built with LibTorch " + p.torch_version() + ", this host has LibTorch " + h.torch_version() +
           "; rebuild the plugin against the host's LibTorch (configure it with -DCMAKE_PREFIX_PATH=" MMDEBIAS_TORCH_PREFIX ")";
  if (p.cxx11_abi != h.cxx11_abi)
    return head + "built with _GLIBCXX_USE_CXX11_ABI=" + std::to_string(p.cxx11_abi) + ", this host has _GLIBCXX_USE_CXX11_ABI=" +
           std::to_string(h.cxx11_abi) + "; rebuild the plugin with the host's LibTorch flags (mmdebias_add_plugin sets them)";
  if (p.cuda_version != h.cuda_version)
    return head + "built with " + cuda_text(p.cuda_version) + " LibTorch, this host has " + cuda_text(h.cuda_version) +
           " LibTorch; rebuild the plugin against the host's LibTorch";
  if (p.compiler != h.compiler)
    return head + "built with " + p.compiler + ", this host with " + h.compiler + "; rebuild the plugin with " + h.compiler;
  return std::nullopt;
}

std::shared_ptr<PluginLibrary> PluginLibrary::open(const std::filesystem::path& file, const std::string& sha256) {
  std::filesystem::path path = std::filesystem::absolute(file).lexically_normal();
  // Before dlopen: a plugin linking another LibTorch would bring a second one into this process (and crash in its
  // constructors, or worse); the handshake below cannot be reached safely.
  if (const auto links = read_elf_links(path))
    if (auto refusal = foreign_torch_refusal(path, *links, loaded_torch(), host_build_info().torch_version(), MMDEBIAS_TORCH_PREFIX))
      throw InputError(*refusal);
  auto* library = new boost::dll::shared_library();
  boost::dll::fs::error_code ec;
  // rtld_now: a missing symbol fails here, not in the middle of training. rtld_local: plugins cannot see each other.
  library->load(path, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local, ec);
  if (ec) {
    delete library;
    throw InputError("cannot load " + path.string() + ": " + ec.message() + " (a missing dependency or symbol; check with `ldd -r`)");
  }
  if (!library->has(MMDEBIAS_PLUGIN_ENTRY_SYMBOL)) {
    // Not a plugin of ours; keep it open anyway (see kept_libraries) rather than dlclose a LibTorch user.
    std::lock_guard<std::mutex> lock(kept_mutex);
    kept_libraries().push_back(library);
    throw InputError("refused " + path.string() + ": it exports no " MMDEBIAS_PLUGIN_ENTRY_SYMBOL " symbol; is it an mmdebias plugin?");
  }
  {
    std::lock_guard<std::mutex> lock(kept_mutex);
    kept_libraries().push_back(library);
  }
  auto entry = library->get<const mmdebias_plugin_info*()>(MMDEBIAS_PLUGIN_ENTRY_SYMBOL);
  const mmdebias_plugin_info* raw = entry();
  std::shared_ptr<PluginLibrary> plugin(new PluginLibrary());
  plugin->path_ = path;
  plugin->info_ = read_plugin_info(raw, path);
  plugin->register_fn_ = raw->register_components;
  plugin->sha256_ = sha256;
  plugin->handle_ = std::shared_ptr<void>(library, [](void*) {});
  return plugin;
}

const std::string& PluginLibrary::sha256() const {
  if (sha256_.empty()) sha256_ = sha256_file(path_);
  return sha256_;
}

}  // namespace mmdebias::core
