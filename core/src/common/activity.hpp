// What the process is busy with during setup (loading a plugin, waiting for the other ranks, preparing
// data), kept where a signal handler can read it: a stop that cannot wait then names what was running.
#pragma once

#include <string>

namespace mmdebias::core {

/// Marks an activity from construction to destruction, restoring the enclosing one after; one thread only.
class ActivityNote {
 public:
  explicit ActivityNote(const std::string& what);
  ~ActivityNote();
  ActivityNote(const ActivityNote&) = delete;
  ActivityNote& operator=(const ActivityNote&) = delete;

 private:
  std::string previous_;
};

/// The innermost activity ("" when none): a NUL-terminated static buffer, safe to read in a signal handler.
const char* current_activity();

}  // namespace mmdebias::core
