#include "common/small_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "mmdebias/core/errors.hpp"

namespace mmdebias::core {

std::string read_small_file(const std::filesystem::path& file, size_t max_bytes) {
  // O_NOFOLLOW: a `latest` pointing at /proc/self/environ must not be read; O_NONBLOCK: nor may a FIFO hang us.
  const int fd = ::open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    throw InputError(file.string() + ": cannot read it: " +
                     (err == ELOOP ? std::string("it is a symbolic link, which mmdebias never writes there") : std::strerror(err)));
  }
  struct stat st {};
  std::string text;
  std::string problem;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    problem = "it is not a regular file";
  } else if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    problem = "it holds " + std::to_string(st.st_size) + " bytes where at most " + std::to_string(max_bytes) + " are expected";
  } else {
    text.resize(max_bytes + 1);
    size_t got = 0;
    while (got < text.size()) {
      const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
      if (n == 0) break;
      if (n < 0) {
        if (errno == EINTR) continue;
        problem = std::strerror(errno);
        break;
      }
      got += static_cast<size_t>(n);
    }
    text.resize(got);
    if (problem.empty() && got > max_bytes) problem = "it grew past " + std::to_string(max_bytes) + " bytes while being read";
  }
  ::close(fd);
  if (!problem.empty()) throw InputError(file.string() + ": cannot read it: " + problem);
  return text;
}

std::string read_text_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw InputError("cannot read " + file.string() + ": " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace mmdebias::core
