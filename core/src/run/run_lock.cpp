#include "run/run_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <thread>

#include "mmdebias/core/errors.hpp"

namespace mmdebias::core {
namespace fs = std::filesystem;
namespace {

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "(unknown host)";
  return name;
}

std::string local_time_now() {
  std::time_t now = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", std::localtime(&now));
  return text;
}

// Who holds the lock, as the holder recorded it. The holder writes right after locking: a reader that comes
// in between finds the file empty, so it looks again for a moment before giving up on the name.
std::string recorded_holder(int fd) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    char text[512];
    ssize_t n = ::pread(fd, text, sizeof text - 1, 0);
    if (n > 0) {
      std::string holder(text, static_cast<size_t>(n));
      while (!holder.empty() && (holder.back() == '\n' || holder.back() == '\0')) holder.pop_back();
      if (!holder.empty()) return holder;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return "a process that has not recorded its PID and host";
}

// Opens the lock file without following a symlink. A lock file left by another user of a shared directory may
// be read-only to us: flock needs no write access, so it is opened read-only then (and this holder goes
// unrecorded).
int open_lock_file(const fs::path& dir, const fs::path& file) {
  int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
  if (fd < 0 && errno == EACCES) fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd >= 0) return fd;
  const int error = errno;
  if (error == ELOOP)
    throw InputError(file.string() + " is a symbolic link: mmdebias does not follow links in a run directory; remove it and try again");
  throw InputError("the run directory " + dir.string() + " is not writable: cannot open its lock file " + RunLock::kFileName + " (" +
                   std::strerror(error) + "); choose another --out or fix its permissions");
}

}  // namespace

RunLock::RunLock(const fs::path& dir, const std::string& command) {
  const fs::path file = dir / kFileName;
  fd_ = open_lock_file(dir, file);
  int rc;
  do rc = ::flock(fd_, LOCK_EX | LOCK_NB);
  while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    const int error = errno;
    if (error == EWOULDBLOCK) {
      const std::string holder = recorded_holder(fd_);
      ::close(fd_);
      fd_ = -1;
      throw InputError(dir.string() + " is in use by another mmdebias process: " + holder +
                       "; one process at a time may write a run directory: wait for it to end or stop it, then try again");
    }
    // No lock support (some network filesystems): refusing would make runs impossible there.
    unavailable_ = "cannot lock " + file.string() + " (" + std::strerror(error) +
                   "): this filesystem does not support file locks, so nothing stops another process from writing this run directory at the same time";
    ::close(fd_);
    fd_ = -1;
    return;
  }
  const std::string holder = "pid " + std::to_string(::getpid()) + " on host " + host_name() + " (" + command + ", since " +
                             local_time_now() + ")\n";
  // Best effort: the lock holds either way; only a refused process's message would lack the name.
  if (::ftruncate(fd_, 0) == 0) {
    [[maybe_unused]] ssize_t written = ::pwrite(fd_, holder.data(), holder.size(), 0);
  }
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the lock; the file stays (see the header)
}

}  // namespace mmdebias::core
