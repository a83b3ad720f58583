// Runs before any other library's initialisation (linked with -z initfirst): under an address-space limit
// (ulimit -v) too small for LibTorch and OpenBLAS, OpenBLAS loops forever in blas_memory_alloc while it loads
// — before main, deaf to SIGTERM. Measured on 2 cores (docs/reliability.md): `mmdebias --version` hangs at
// 700 MB, a tiny run hangs at 1000 MB and completes at 1100 MB; the floor below keeps a margin.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

constexpr unsigned long long kMiB = 1024ULL * 1024ULL;
constexpr unsigned long long kBaseMiB = 1024;    // LibTorch's and OpenBLAS's own mappings
constexpr unsigned long long kPerCoreMiB = 128;  // OpenBLAS's buffers, one set per core it may use

__attribute__((constructor)) void check_address_space_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_AS, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return;
  if (const char* skip = std::getenv("MMDEBIAS_SKIP_ADDRESS_SPACE_CHECK"); skip != nullptr && std::strcmp(skip, "1") == 0) return;
  const long cores = std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN));
  const unsigned long long floor_mib = kBaseMiB + kPerCoreMiB * static_cast<unsigned long long>(cores);
  const unsigned long long limit_mib = limit.rlim_cur / kMiB;
  if (limit_mib >= floor_mib) return;
  char text[640];
  const int n = std::snprintf(
      text, sizeof text,
      "mmdebias: the address-space limit (ulimit -v) is %llu MiB, below the %llu MiB this machine needs "
      "(%llu MiB + %llu MiB per core, %ld cores): LibTorch and OpenBLAS reserve address space as they load, and "
      "OpenBLAS waits forever when it cannot. Raise the limit (ulimit -v unlimited), or cap memory with a cgroup "
      "(e.g. systemd-run --user --scope -p MemoryMax=4G mmdebias ...), which limits memory used rather than "
      "reserved. MMDEBIAS_SKIP_ADDRESS_SPACE_CHECK=1 skips this check.\n",
      limit_mib, floor_mib, kBaseMiB, kPerCoreMiB, cores);
  if (n > 0) { ssize_t ignored = ::write(STDERR_FILENO, text, static_cast<size_t>(std::min(n, static_cast<int>(sizeof text) - 1))); (void)ignored; }
  ::_exit(2);
}

}  // namespace
