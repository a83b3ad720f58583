// The run's logger. spdlog stays behind this header in its own library (mmdebias_log), compiled without LibTorch's
// include path: LibTorch 2.x ships a fmt 12 there that Debian's spdlog 1.10 (built for fmt 9) cannot compile against.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

namespace mmdebias::core {

/// Where a run's lines go; messages arrive formatted (the call site builds the text).
class Logger {
 public:
  /// How serious a line is; a sink drops lines below its own level.
  enum class Level { Debug, Info, Warn, Error };
  virtual ~Logger() = default;
  /// Writes one line at level.
  virtual void log(Level level, const std::string& message) = 0;
  /// One informational line.
  void info(const std::string& message) { log(Level::Info, message); }
  /// One warning line.
  void warn(const std::string& message) { log(Level::Warn, message); }
};

/// Lines to stderr at console_level and up, and (when log_file is not empty) every info line to log_file, appended;
/// each line carries the time and "[rank N]".
std::shared_ptr<Logger> make_logger(const std::filesystem::path& log_file, int rank, Logger::Level console_level);

}  // namespace mmdebias::core
