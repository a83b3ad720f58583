#include "log/logger.hpp"

#include <vector>

#include <spdlog/logger.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace mmdebias::core {
namespace {

spdlog::level::level_enum to_spdlog(Logger::Level level) {
  switch (level) {
    case Logger::Level::Debug: return spdlog::level::debug;
    case Logger::Level::Info: return spdlog::level::info;
    case Logger::Level::Warn: return spdlog::level::warn;
    case Logger::Level::Error: return spdlog::level::err;
  }
  return spdlog::level::err;
}

class SpdLogger final : public Logger {
 public:
  explicit SpdLogger(std::shared_ptr<spdlog::logger> logger) : logger_(std::move(logger)) {}
  // The message is passed as an argument, never as a format string: a '{' in it is text.
  void log(Level level, const std::string& message) override { logger_->log(to_spdlog(level), "{}", message); }

 private:
  std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace

std::shared_ptr<Logger> make_logger(const std::filesystem::path& log_file, int rank, Logger::Level console_level) {
  auto console = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  console->set_level(to_spdlog(console_level));
  std::vector<spdlog::sink_ptr> sinks{console};
  if (!log_file.empty()) sinks.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(log_file.string(), false));
  auto logger = std::make_shared<spdlog::logger>("mmdebias", sinks.begin(), sinks.end());
  logger->set_pattern("[%Y-%m-%d %H:%M:%S] [rank " + std::to_string(rank) + "] %v");
  logger->flush_on(spdlog::level::info);
  return std::make_shared<SpdLogger>(std::move(logger));
}

}  // namespace mmdebias::core
