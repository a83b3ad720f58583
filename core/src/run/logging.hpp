// What a run tells its user while it trains: the logger (console, and log.txt on rank 0) and the progress line.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <utility>

#include "log/logger.hpp"
#include "manifest/resolved.hpp"
#include "run/run_directory.hpp"

namespace mmdebias::core {

/// Rank 0 logs to the console and log.txt; other ranks warnings to the console only (their lines carry their rank).
std::shared_ptr<Logger> make_run_logger(const RunDirectory& dir, int rank);

/// One line per library opened while loading plugins (path and sha256): what code this process ran.
void log_libraries(Logger& logger, const std::vector<LibraryProvenance>& libraries);

/// One line of progress: a bar redrawn in place on a terminal, a plain line every `every` steps otherwise.
struct Progress {
  bool interactive;                         ///< Redraw a bar in place (stderr is a terminal).
  int64_t every;                            ///< Otherwise a line every this many steps.
  std::shared_ptr<Logger> logger;           ///< Where the plain lines go.
  /// When and at which step the first call came (shared by copies), for the ETA.
  std::shared_ptr<std::pair<std::chrono::steady_clock::time_point, int64_t>> start =
      std::make_shared<std::pair<std::chrono::steady_clock::time_point, int64_t>>(std::chrono::steady_clock::now(), -1);

  /// Shows step of total with the step's loss and the samples per second.
  void operator()(int64_t step, int64_t total, double loss, double rate) const;
};

}  // namespace mmdebias::core
