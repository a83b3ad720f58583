// Mappings of data files and reads out of them that survive the file being truncated (see npy_mapping.hpp).
#include "npy/npy_mapping.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csetjmp>
#include <csignal>
#include <cstring>

#include "mmdebias/sdk/data.hpp"

namespace mmdebias::npy {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw sdk::DataError("data.files: " + path + ": " + what);
}

FileIdentity identity_of(const struct stat& st) {
  return {st.st_dev, st.st_ino, static_cast<int64_t>(st.st_size),
          static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
}

// The read this thread is inside, or null. initial-exec: the handler reads it, and a dlopen'ed library's thread_local
// in the default model may be allocated (by malloc, not async-signal-safe) on a thread's first touch.
thread_local sigjmp_buf* t_read __attribute__((tls_model("initial-exec"))) = nullptr;
struct sigaction g_previous {};

void on_sigbus(int sig, siginfo_t* info, void* context) {
  if (sigjmp_buf* read = t_read) siglongjmp(*read, 1);
  // Not one of our reads: behave as if we were not installed.
  if (g_previous.sa_flags & SA_SIGINFO) {
    g_previous.sa_sigaction(sig, info, context);
  } else if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN) {
    g_previous.sa_handler(sig);
  } else {
    // Returning re-runs the faulting access, which the default action then ends (an ignored SIGBUS from a fault
    // would loop).
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    ::sigaction(SIGBUS, &dfl, nullptr);
  }
}

bool install_handler() {
  struct sigaction action {};
  action.sa_sigaction = on_sigbus;
  sigemptyset(&action.sa_mask);
  // NODEFER: the handler leaves by siglongjmp without restoring the signal mask (sigsetjmp(.., 0) saves none, which
  // keeps a read's cost at a few instructions), so SIGBUS must not be blocked while it runs.
  action.sa_flags = SA_SIGINFO | SA_NODEFER;
  return ::sigaction(SIGBUS, &action, &g_previous) == 0;
}

}  // namespace

Mapping::Mapping(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) fail(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    const int e = errno;
    ::close(fd_);
    fail(path, std::string("cannot stat: ") + std::strerror(e));
  }
  mapped_ = identity_of(st);
  size_ = static_cast<size_t>(st.st_size);
  if (size_ == 0) return;
  void* a = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd_, 0);
  if (a == MAP_FAILED) {
    const int e = errno;
    ::close(fd_);
    fail(path, std::string("cannot memory-map: ") + std::strerror(e));
  }
  addr_ = a;
}

Mapping::~Mapping() {
  if (addr_ != nullptr) ::munmap(addr_, size_);
  ::close(fd_);
}

std::string Mapping::change(bool path) const {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return std::string("it cannot be checked: ") + std::strerror(errno);
  const FileIdentity now = identity_of(st);
  if (now.size != mapped_.size)
    return "it was truncated or rewritten in place: " + std::to_string(mapped_.size) + " -> " +
           std::to_string(now.size) + " bytes";
  if (now.modified_ns != mapped_.modified_ns) return "it was rewritten in place: same size, new modification time";
  if (!path) return {};
  if (::stat(path_.c_str(), &st) != 0) return "it was removed or renamed";
  if (st.st_dev != mapped_.device || st.st_ino != mapped_.inode)
    return "it was replaced by another file, saved elsewhere and renamed over it";
  return {};
}

void throw_changed(const std::string& path, const std::string& what) {
  throw sdk::DataError("data.files: " + path + " changed on disk while the run was reading it (" +
                       (what.empty() ? std::string("a page of its mapping was gone: the file was cut short") : what) +
                       "). The run reads its files until it ends, so they must stay as they were when it started: "
                       "restore the file and resume the run, or start a new run on the new data");
}

bool read_guarded(void (*read)(void*) noexcept, void* arg) {
  static const bool installed = install_handler();
  if (!installed) {  // no handler (sigaction refused): read unguarded rather than not at all
    read(arg);
    return true;
  }
  sigjmp_buf jump;
  sigjmp_buf* const outer = t_read;  // reads may nest; the innermost catches the signal
  if (sigsetjmp(jump, 0) != 0) {
    t_read = outer;
    return false;
  }
  t_read = &jump;
  std::atomic_signal_fence(std::memory_order_seq_cst);  // the handler must see t_read set before the first read
  read(arg);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  t_read = outer;
  return true;
}

}  // namespace mmdebias::npy
