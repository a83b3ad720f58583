// While a plugin file's own code runs in the host (its static initialisers, entry symbol and
// registration), a fatal signal first prints which file it was and how to find crashing plugins
// safely, then kills the process as it would have (same signal, so exit status and core dumps are unchanged).
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
