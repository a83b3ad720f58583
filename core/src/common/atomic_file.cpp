#include "common/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "mmdebias/core/errors.hpp"

namespace mmdebias::core {
namespace fs = std::filesystem;
namespace {

void write_all(int fd, const char* data, size_t size, const fs::path& path) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw RunError("cannot write " + path.string() + ": " + std::strerror(errno));
    data += n;
    size -= static_cast<size_t>(n);
  }
}

void fsync_directory(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

}  // namespace

void write_file_atomically(const fs::path& path, const std::string& text, const std::function<void()>& before_rename) {
  fs::path tmp = path;
  tmp += ".tmp-" + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw RunError("cannot create " + tmp.string() + ": " + std::strerror(errno));
  try {
    write_all(fd, text.data(), text.size(), tmp);
    if (::fsync(fd) != 0) throw RunError("cannot flush " + tmp.string() + ": " + std::strerror(errno));
  } catch (...) {
    ::close(fd);
    fs::remove(tmp);
    throw;
  }
  ::close(fd);
  if (before_rename) before_rename();
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    fs::remove(tmp);
    throw RunError("cannot rename " + tmp.string() + " to " + path.string() + ": " + std::strerror(errno));
  }
  fsync_directory(path.parent_path().empty() ? fs::path(".") : path.parent_path());
}

}  // namespace mmdebias::core
