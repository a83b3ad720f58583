#include "run/logging.hpp"

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

namespace mmdebias::core {

std::shared_ptr<Logger> make_run_logger(const RunDirectory& dir, int rank) {
  return make_logger(rank == 0 ? dir.log() : std::filesystem::path(), rank, rank == 0 ? Logger::Level::Info : Logger::Level::Warn);
}

void log_libraries(Logger& logger, const std::vector<LibraryProvenance>& libraries) {
  for (const auto& l : libraries)
    logger.info("library " + l.path + " sha256 " + l.sha256 + (l.loaded ? "" : " (opened, not loaded)"));
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
    char line[160];
    std::snprintf(line, sizeof line, "step %lld/%lld  loss %.4f  %.0f samples/s  ETA %s", static_cast<long long>(step),
                  static_cast<long long>(total), loss, rate, eta_text);
    logger->info(line);
  }
}

}  // namespace mmdebias::core
