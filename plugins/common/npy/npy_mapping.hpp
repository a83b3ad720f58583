// A read-only memory mapping of a data file that may change on disk while it is mapped, for data.files.
//
// np.save rewrites an existing file in place: it opens it with O_TRUNC (same inode, size 0), then writes. While it
// does, the pages of a mapping past the file's current end are gone, and touching one raises SIGBUS, which kills the
// process without a word. So every read out of a Mapping goes through read_guarded(), which turns that SIGBUS into a
// false return, and after its reads the caller asks change() of each mapping: a file rewritten to the same size
// raises no signal but serves other bytes than the run started with.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>

namespace mmdebias::npy {

/// What tells a file's content apart cheaply: where it lives, its size and its modification time.
struct FileIdentity {
  dev_t device = 0;          ///< st_dev.
  ino_t inode = 0;           ///< st_ino.
  int64_t size = 0;          ///< st_size, bytes.
  int64_t modified_ns = 0;   ///< st_mtim in nanoseconds.
};

/// A read-only mapping of a whole file (munmap on destruction), and the identity of the file it maps.
class Mapping {
 public:
  /// Maps path read-only; throws sdk::DataError naming path when it cannot.
  explicit Mapping(const std::string& path);
  ~Mapping();
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  /// First byte of the file; read it only inside read_guarded().
  const unsigned char* data() const { return static_cast<const unsigned char*>(addr_); }
  /// File size in bytes when it was mapped.
  size_t size() const { return size_; }
  /// Empty while the file mapped has its size and modification time and (with path) the path still names it;
  /// otherwise what happened to it, as the end of a sentence ("it was truncated or rewritten in place: 4128 -> 0
  /// bytes"). One system call (fstat of the mapped file), two with path (stat): a file replaced by a rename is
  /// harmless to reads (the mapping keeps the old one), so callers may look at the path less often.
  std::string change(bool path = true) const;

 private:
  std::string path_;
  int fd_ = -1;  // kept open: fstat tells what became of the mapped inode even after the path names another file
  void* addr_ = nullptr;
  size_t size_ = 0;
  FileIdentity mapped_;
};

/// Throws the sdk::DataError for a file that changed on disk while mapped: names path, says what happened (what: a
/// Mapping's change(); empty when a read faulted but the file looks unchanged again) and what to do.
[[noreturn]] void throw_changed(const std::string& path, const std::string& what);

/// Runs read(arg), which reads mapped memory: true when it ran to its end, false when a page it touched was gone
/// (SIGBUS: a mapped file was truncated). Safe from several threads at once; the SIGBUS handler it installs on first
/// use passes any other SIGBUS on to the handler it replaced (the default one ends the process, as before).
/// read must not throw and must create no object with a destructor: on SIGBUS it is abandoned mid-way (siglongjmp).
bool read_guarded(void (*read)(void*) noexcept, void* arg);

/// read_guarded() over a callable (a lambda capturing by reference; the same rules hold for its body).
template <class Read>
bool read_guarded(Read&& read) {
  using Fn = std::remove_reference_t<Read>;
  return read_guarded([](void* r) noexcept { (*static_cast<Fn*>(r))(); }, &read);
}

}  // namespace mmdebias::npy
