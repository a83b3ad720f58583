// Runs before any other library's initialisation (linked with -z initfirst): under an address-space limit
// (ulimit -v) too small for LibTorch and its BLAS, OpenBLAS loops forever in blas_memory_alloc while it loads — before
// main, deaf to SIGTERM — and LibTorch 2.x's libraries crash. By then the dynamic loader has mapped every library, so
// what they take is known here; the floor adds what loading and a small run reserve beyond it. Measured on 2 cores
// (docs/reliability.md): with Debian's 1.13 `mmdebias --version` hangs at 700 MB, a tiny run hangs at 1000 MB and
// completes at 1100 MB; the floor below keeps a margin. (A limit below what the libraries map is refused by the
// loader itself, "failed to map segment", before any code runs.)
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

constexpr unsigned long long kMiB = 1024ULL * 1024ULL;
constexpr unsigned long long kHeadroomMiB = 640;  // reserved while LibTorch and its BLAS initialise, and by a run
constexpr unsigned long long kPerCoreMiB = 128;   // OpenBLAS's buffers, one set per core it may use

// The process's address space now (VmSize in /proc/self/status), in MiB; 0 when unreadable. Plain syscalls: stdio is
// not ready this early.
unsigned long long mapped_mib() {
  const int fd = ::open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[4096];
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  const char* line = std::strstr(buf, "VmSize:");
  return line ? std::strtoull(line + 7, nullptr, 10) / 1024 : 0;
}

__attribute__((constructor)) void check_address_space_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_AS, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return;
  if (const char* skip = std::getenv("MMDEBIAS_SKIP_ADDRESS_SPACE_CHECK"); skip != nullptr && std::strcmp(skip, "1") == 0) return;
  const long cores = std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN));
  const unsigned long long mapped = mapped_mib();
  const unsigned long long floor_mib = mapped + kHeadroomMiB + kPerCoreMiB * static_cast<unsigned long long>(cores);
  const unsigned long long limit_mib = limit.rlim_cur / kMiB;
  if (limit_mib >= floor_mib) return;
  char text[720];
  const int n = std::snprintf(
      text, sizeof text,
      "mmdebias: the address-space limit (ulimit -v) is %llu MiB, below the %llu MiB this machine needs "
      "(the %llu MiB its libraries map + %llu MiB + %llu MiB per core, %ld cores): LibTorch and its BLAS reserve "
      "address space as they load, and OpenBLAS waits forever when it cannot. Raise the limit (ulimit -v unlimited), "
      "or cap memory with a cgroup (e.g. systemd-run --user --scope -p MemoryMax=4G mmdebias ...), which limits memory "
      "used rather than reserved. MMDEBIAS_SKIP_ADDRESS_SPACE_CHECK=1 skips this check.\n",
      limit_mib, floor_mib, mapped, kHeadroomMiB, kPerCoreMiB, cores);
  if (n > 0) { ssize_t ignored = ::write(STDERR_FILENO, text, static_cast<size_t>(std::min(n, static_cast<int>(sizeof text) - 1))); (void)ignored; }
  ::_exit(2);
}

}  // namespace
