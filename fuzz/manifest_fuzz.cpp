// Fuzzes what `mmdebias validate MANIFEST [key=value ...]` does: YAML parse, overrides, validation and
// construction against the shipped std and data plugins, emitting the resolved manifest.
//
// Input: the manifest text, then optionally a NUL byte and NUL-separated override arguments ("train.epochs=3").
// Expected: success, or InputError (bad manifest or override). Anything else escapes and is a finding, as is a
// resolved manifest that does not validate to itself (a run records it, and resume compares against it).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "mmdebias/core/errors.hpp"
#include "mmdebias/core/manifest.hpp"
#include "plugin/library.hpp"
#include "plugin/registry.hpp"
#include "pipeline/validate.hpp"

namespace {

using namespace mmdebias::core;

// The plugins are loaded once: they are the fixed part of the input space. They are the normal (gcc) build's
// (MMDEBIAS_FUZZ_PLUGIN_DIR overrides where), registered directly: the host's handshake refuses a plugin
// built by another compiler, and clang and gcc agree on the libstdc++ ABI the SDK passes across.
Registry& registry() {
  static Registry* r = [] {
    const char* env = std::getenv("MMDEBIAS_FUZZ_PLUGIN_DIR");
    const std::filesystem::path dir = env && *env ? env : MMDEBIAS_FUZZ_PLUGIN_DIR;
    auto* reg = new Registry;
    for (const char* name : {"mmdebias-std.so", "mmdebias-data.so"}) {
      try {
        reg->register_plugin(PluginLibrary::open(dir / name));
      } catch (const std::exception& e) {
        std::fprintf(stderr, "fuzz_manifest: cannot load %s (build it with scripts/setup): %s\n",
                     (dir / name).c_str(), e.what());
        std::exit(2);
      }
    }
    return reg;
  }();
  return *r;
}

// The manifest text and the override arguments packed after it.
void split_input(const uint8_t* data, size_t size, std::string& text, std::vector<std::string>& args) {
  const std::string all(reinterpret_cast<const char*>(data), size);
  size_t nul = all.find('\0');
  text = all.substr(0, nul);
  while (nul != std::string::npos && args.size() < 8) {
    const size_t next = all.find('\0', nul + 1);
    args.push_back(all.substr(nul + 1, next == std::string::npos ? std::string::npos : next - nul - 1));
    nul = next;
  }
}

[[noreturn]] void finding(const std::string& what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_manifest: %s\n%s\n", what.c_str(), detail.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  registry();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text;
  std::vector<std::string> args;
  split_input(data, size, text, args);
  std::string resolved_text;
  try {
    const Manifest manifest = load_manifest_text(text, "<fuzz>", parse_overrides(args));
    manifest_plugin_paths(manifest);  // the lenient reads before plugins load (not followed: the set is fixed)
    try {
      manifest_sha256_pins(manifest);  // strict (a malformed pin is refused before loading); validation goes on regardless
    } catch (const InputError&) {
    }
    const ResolvedManifest resolved = validate_manifest(manifest, registry());
    resolved_text = emit_yaml(resolved);
    format_hook_order(resolved);
  } catch (const InputError&) {
    return 0;
  }
  // What validated once must validate again from its resolved form, to the same resolved form.
  std::string again;
  try {
    again = emit_yaml(validate_manifest(load_manifest_text(resolved_text, "<resolved>"), registry()));
  } catch (const InputError& e) {
    finding("the resolved manifest does not validate:\n" + std::string(e.what()), resolved_text);
  }
  if (again != resolved_text) finding("the resolved manifest resolves differently:", resolved_text + "---\n" + again);
  return 0;
}
