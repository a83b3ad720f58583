// Child processes of a sweep: `mmdebias run` started N at a time, each writing its output to a log file, each
// told to checkpoint and stop (SIGTERM) when the sweep is stopped or dies.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace mmdebias::core {

/// One process to start.
struct ChildJob {
  std::vector<std::string> argv;  ///< argv[0] is the executable's path.
  std::filesystem::path log;      ///< Its stdout and stderr, appended.
  size_t index = 0;               ///< The caller's id for it.
};

/// How one child ended: its exit code, or 128 + the signal that killed it.
struct ChildEnd {
  size_t index = 0;    ///< ChildJob::index.
  int code = 0;        ///< 0 = success.
  double seconds = 0;  ///< From start to end.
};

/// Starts jobs, at most `parallel` at once, in order; before each, ready(job) may wait (e.g. for a lock), fills in
/// its argv, or returns false to skip it. Calls done() as each ends. SIGTERM/SIGINT to this process stop further starts and
/// are passed on to the running children as SIGTERM (they checkpoint and stop; a second SIGINT is passed on as
/// SIGINT: they exit at once); children get SIGTERM too when this process dies, however it dies. Returns the
/// first stop signal received, or 0.
int run_children(std::vector<ChildJob> jobs, int parallel, const std::function<bool(ChildJob&)>& ready,
                 const std::function<void(const ChildEnd&)>& done);

}  // namespace mmdebias::core
