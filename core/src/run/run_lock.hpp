// One writer per run directory: an exclusive flock(2) on DIR/.mmdebias-lock, taken by rank 0 of `run`,
// `run --resume` and `eval` (which writes eval-<split>.json and scorers/) before they write anything, and
// held until they end. The kernel drops the lock when the process ends, however it ends (SIGKILL included),
// so a killed run never leaves a stale lock; the file itself stays, harmless (removing it would race with a
// process that has just opened it). Other ranks do not lock: they may be on other hosts, and write nothing.
#pragma once

#include <filesystem>
#include <string>

namespace mmdebias::core {

class RunLock {
 public:
  /// The lock file's name inside a run directory.
  static constexpr const char* kFileName = ".mmdebias-lock";

  /// Takes the lock on dir (which must exist) for `command` ("mmdebias run", ...), recording this process's
  /// PID, host and command in the file. Throws InputError (exit 2) at once, naming the holder's PID and host,
  /// when another process holds it, and when the lock file cannot be opened (a symlink is never followed).
  RunLock(const std::filesystem::path& dir, const std::string& command);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

  /// Empty when the lock is held. Otherwise why the filesystem could not lock at all (e.g. a network
  /// filesystem mounted without lock support): the command then goes on unprotected, and should warn.
  const std::string& unavailable() const { return unavailable_; }

 private:
  int fd_ = -1;
  std::string unavailable_;
};

}  // namespace mmdebias::core
