// While a plugin file's own code runs in the host (its static initialisers, entry symbol and registration), the
// process must not end without saying so:
// - a fatal signal first prints which file it was and how to find crashing plugins safely, then kills the process
//   as it would have (same signal, so exit status and core dumps are unchanged);
// - exit, _exit, _Exit or quick_exit called by that code (status 0 would read as success, with nothing written)
//   print which file it was and end the process with status 2 instead. The host defines _exit and _Exit for this
//   (the executable's definitions are the ones a plugin binds to); a raw exit_group system call is not seen.
#pragma once

#include <filesystem>

#include "common/activity.hpp"

namespace mmdebias::core::detail {

/// Active from construction to destruction; not reentrant (plugins are loaded one at a time).
class LoadCrashNote {
 public:
  explicit LoadCrashNote(const std::filesystem::path& file);
  ~LoadCrashNote();
  LoadCrashNote(const LoadCrashNote&) = delete;
  LoadCrashNote& operator=(const LoadCrashNote&) = delete;

 private:
  ActivityNote activity_;  // and a stop request that cannot wait (StopSignalScope's setup deadline) names the file
};

}  // namespace mmdebias::core::detail
