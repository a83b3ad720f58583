#include "run/logging.hpp"

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace mmdebias::core {

std::shared_ptr<spdlog::logger> make_logger(const RunDirectory& dir, int rank) {
  auto console = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  console->set_level(rank == 0 ? spdlog::level::info : spdlog::level::warn);
  std::vector<spdlog::sink_ptr> sinks{console};
  if (rank == 0) sinks.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(dir.log().string(), false));
  auto logger = std::make_shared<spdlog::logger>("mmdebias", sinks.begin(), sinks.end());
  logger->set_pattern("[%Y-%m-%d %H:%M:%S] [rank " + std::to_string(rank) + "] %v");
  logger->flush_on(spdlog::level::info);
  return logger;
}

void log_libraries(spdlog::logger& logger, const std::vector<LibraryProvenance>& libraries) {
  for (const auto& l : libraries)
    logger.info("library {} sha256 {}{}", l.path, l.sha256, l.loaded ? "" : " (opened, not loaded)");
}

void Progress::operator()(int64_t step, int64_t total, double loss, double rate) const {
  if (start->second < 0) *start = {std::chrono::steady_clock::now(), step - 1};
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start->first).count();
  double per_step = elapsed / static_cast<double>(std::max<int64_t>(1, step - start->second));
  long eta = static_cast<long>(per_step * static_cast<double>(total - step));
  char eta_text[32];
  std::snprintf(eta_text, sizeof eta_text, "%ld:%02ld", eta / 60, eta % 60);
  if (interactive) {
    int width = 30, filled = static_cast<int>(width * step / std::max<int64_t>(1, total));
    std::fprintf(stderr, "\r[%s%s] step %lld/%lld  loss %.4f  %.0f samples/s  ETA %s ", std::string(filled, '#').c_str(),
                 std::string(width - filled, '.').c_str(), static_cast<long long>(step), static_cast<long long>(total), loss,
                 rate, eta_text);
    if (step == total) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  } else if (step % every == 0 || step == total) {
    logger->info("step {}/{}  loss {:.4f}  {:.0f} samples/s  ETA {}", step, total, loss, rate, eta_text);
  }
}

}  // namespace mmdebias::core
