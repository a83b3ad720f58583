// Reading what a plugin links before loading it, and the refusal of a plugin built against another LibTorch.
// The refusal with real plugins built against each LibTorch is tests/cli/foreign_torch.sh.
#include <filesystem>
#include <fstream>
#include <string>

#include <ATen/ATen.h>

#include "plugin/elf_links.hpp"

// After LibTorch: glog (pulled in by LibTorch) defines its own CHECK otherwise.
#include <doctest/doctest.h>

namespace fs = std::filesystem;
using namespace mmdebias::core;

namespace {

fs::path std_plugin() { return fs::path(MMDEBIAS_PLUGIN_DIR) / "mmdebias-std.so"; }

std::string host_c10(const LoadedTorch& torch) {
  for (const auto& [stem, soname] : torch.sonames)
    if (stem == "libc10.so") return soname;
  return "";
}

}  // namespace

TEST_CASE("elf links: the std plugin links the very libc10 this process loaded") {
  (void)at::zeros({1});  // LibTorch is loaded (it is linked; this keeps the linker from dropping it)
  const LoadedTorch& torch = loaded_torch();
  const std::string c10 = host_c10(torch);
  REQUIRE_MESSAGE(!c10.empty(), "no libc10 among this process's libraries");
  CHECK(!torch.directory.empty());
  const auto links = read_elf_links(std_plugin());
  REQUIRE(links.has_value());
  bool found = false;
  for (const auto& n : links->needed) found = found || n == c10;
  CHECK_MESSAGE(found, "the std plugin does not link " << c10);
  CHECK_FALSE(foreign_torch_refusal(std_plugin(), *links, torch, "9.9.9", "/torch/dir").has_value());
}

TEST_CASE("elf links: a plugin linking another LibTorch is refused naming both versions and the fix") {
  LoadedTorch host{{{"libc10.so", "libc10.so"}, {"libtorch_cpu.so", "libtorch_cpu.so"}}, "/venv/torch/lib"};
  ElfLinks debian{{"libstdc++.so.6", "libc10.so.1.13", "libtorch_cpu.so.1.13"}, "mmdebias-x.so", ""};
  auto refusal = foreign_torch_refusal("/p/mmdebias-x.so", debian, host, "2.15.0", "/venv/torch/share/cmake");
  REQUIRE(refusal.has_value());
  CHECK(refusal->find("refused /p/mmdebias-x.so") == 0);
  CHECK(refusal->find("LibTorch 1.13 (it links libc10.so.1.13)") != std::string::npos);
  CHECK(refusal->find("this host runs LibTorch 2.15.0 (libc10.so from /venv/torch/lib)") != std::string::npos);
  CHECK(refusal->find("-DCMAKE_PREFIX_PATH=/venv/torch/share/cmake") != std::string::npos);

  // The reverse: an unversioned libc10 (a wheel's) in a host running Debian's; its version read beside its RUNPATH.
  const fs::path wheel = fs::temp_directory_path() / "mmdebias-elf-links-wheel";
  fs::create_directories(wheel / "lib");
  std::ofstream(wheel / "lib" / "libc10.so") << "";
  std::ofstream(wheel / "version.py") << "from typing import Optional\n__all__ = ['__version__', 'cuda']\n__version__ = '2.15.0+cu132'\n";
  LoadedTorch debian_host{{{"libc10.so", "libc10.so.1.13"}}, "/usr/lib/x86_64-linux-gnu"};
  ElfLinks from_wheel{{"libc10.so"}, "", (wheel / "lib").string()};
  refusal = foreign_torch_refusal("/p/mmdebias-y.so", from_wheel, debian_host, "1.13.1", "/usr/lib/x86_64-linux-gnu/cmake");
  REQUIRE(refusal.has_value());
  CHECK(refusal->find("LibTorch 2.15.0+cu132 (it links libc10.so from " + (wheel / "lib").string() + ")") != std::string::npos);
  fs::remove_all(wheel);

  ElfLinks same{{"libc10.so.1.13"}, "", ""};
  CHECK_FALSE(foreign_torch_refusal("/p/z.so", same, debian_host, "1.13.1", "/d").has_value());
}

TEST_CASE("elf links: files that are not 64-bit ELF, or are cut short, read as unknown and never crash") {
  const fs::path dir = fs::temp_directory_path() / "mmdebias-elf-links-bad";
  fs::create_directories(dir);
  std::ofstream(dir / "text.so") << "not an ELF file at all";
  CHECK_FALSE(read_elf_links(dir / "text.so").has_value());
  CHECK_FALSE(read_elf_links(dir / "missing.so").has_value());
  // Every prefix length class of a real plugin: the header alone, part of the section table, all but the tail.
  std::ifstream in(std_plugin(), std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (size_t cut : {size_t{16}, size_t{64}, size_t{4096}, bytes.size() / 2, bytes.size() - 64}) {
    std::ofstream(dir / "cut.so", std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(cut));
    const auto links = read_elf_links(dir / "cut.so");
    if (links) CHECK(links->needed.size() < 1000);
  }
  fs::remove_all(dir);
}
