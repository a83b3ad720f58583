#include "mmdebias/core/run_directory.hpp"

#include <unistd.h>

#include <ctime>
#include <sstream>
#include <vector>

#include "mmdebias/core/checkpoint.hpp"
#include "mmdebias/core/errors.hpp"

namespace mmdebias::core {
namespace fs = std::filesystem;

RunDirectory::RunDirectory(fs::path dir) : dir_(std::move(dir)) {
  std::error_code ec;
  fs::create_directories(dir_ / "checkpoints", ec);
  if (ec) throw RunError("cannot create the run directory " + dir_.string() + ": " + ec.message());
  // Probe writability now: a clear error before training beats a lost checkpoint after it.
  fs::path probe = dir_ / (".write-test-" + std::to_string(::getpid()));
  { std::ofstream out(probe); if (!out) throw RunError("the run directory " + dir_.string() + " is not writable"); }
  fs::remove(probe);
}

void RunDirectory::append_metrics(const nlohmann::json& line) {
  if (!metrics_.is_open()) {
    metrics_.open(metrics(), std::ios::app);
    if (!metrics_) throw RunError("cannot open " + metrics().string());
  }
  metrics_ << line.dump() << '\n';
  metrics_.flush();
}

void RunDirectory::truncate_metrics_after(int64_t step, bool drop_eval_at_step) {
  if (metrics_.is_open()) metrics_.close();
  std::ifstream in(metrics());
  if (!in) return;
  std::string kept, line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded()) continue;  // a half-written last line of a killed run
    if (j.contains("step") && j["step"].is_number_integer() && j["step"].get<int64_t>() > step) continue;
    if (drop_eval_at_step && j.value("type", "") == "eval" && j.value("step", int64_t{-1}) == step) continue;
    kept += line + "\n";
  }
  in.close();
  write_file_atomically(metrics(), kept);
}

void RunDirectory::write_summary(const nlohmann::json& summary) { write_file_atomically(this->summary(), summary.dump(2) + "\n"); }

fs::path RunDirectory::fresh(const fs::path& parent, const std::string& name) {
  std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
  fs::path base = parent / (name + "-" + stamp);
  fs::path candidate = base;
  for (int i = 2; fs::exists(candidate); ++i) candidate = base.string() + "-" + std::to_string(i);
  return candidate;
}

}  // namespace mmdebias::core
