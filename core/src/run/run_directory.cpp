#include "run/run_directory.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <sstream>
#include <vector>

#include "mmdebias/core/errors.hpp"
#include "run/checkpoint.hpp"

namespace mmdebias::core {
namespace fs = std::filesystem;

namespace {

// Creates, writes, fsyncs and removes a file in dir, as a checkpoint will: a clear error before training
// beats a lost checkpoint after it. Also catches what permission bits do not show (a read-only mount, a
// full quota, root squashed on NFS).
void probe_writable(const fs::path& dir) {
  fs::path probe = dir / (".write-test-" + std::to_string(::getpid()));
  auto refuse = [&](const char* step) {
    int error = errno;
    throw InputError("the run directory " + dir.string() + " is not writable: cannot " + step + " a file in it (" +
                     std::strerror(error) + "); choose another --out or fix its permissions");
  };
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) refuse("create");
  const char text[] = "mmdebias write test\n";
  bool written = ::write(fd, text, sizeof text - 1) == static_cast<ssize_t>(sizeof text - 1) && ::fsync(fd) == 0;
  int error = errno;
  ::close(fd);
  if (!written) {
    ::unlink(probe.c_str());
    errno = error;
    refuse("write and flush");
  }
  if (::unlink(probe.c_str()) != 0) refuse("remove");
}

}  // namespace

RunDirectory::RunDirectory(fs::path dir) : dir_(std::move(dir)) {
  std::error_code ec;
  // Only a missing directory is created: create_directories on an existing read-only one fails with EACCES
  // in some builds (seen under ASan), which would misname the problem.
  if (!fs::is_directory(dir_, ec)) fs::create_directories(dir_, ec);
  if (ec)
    throw InputError("cannot create the run directory " + dir_.string() + ": " + ec.message() +
                     "; choose another --out or fix its permissions");
  fs::create_directories(checkpoints(), ec);
  if (ec)
    throw InputError("the run directory " + dir_.string() + " is not writable: cannot create checkpoints/ in it (" + ec.message() +
                     "); choose another --out or fix its permissions");
  probe_writable(dir_);
}

void RunDirectory::append_metrics(const nlohmann::json& line) {
  if (!metrics_.is_open()) {
    metrics_.open(metrics(), std::ios::app);
    if (!metrics_) throw RunError("cannot open " + metrics().string() + ": " + std::strerror(errno));
  }
  metrics_ << line.dump() << '\n';
  metrics_.flush();
  // A full disk shows here, not as a lost line: stop the run (its last checkpoint stays intact).
  if (!metrics_) throw RunError("cannot append to " + metrics().string() + ": " + std::strerror(errno) +
                                "; the run stopped, its last checkpoint is intact");
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

void RunDirectory::write_summary(const nlohmann::json& summary) {
  try {
    write_file_atomically(this->summary(), summary.dump(2) + "\n");
  } catch (const RunError& e) {
    throw RunError(std::string(e.what()) + "; training finished and its last checkpoint is saved: free some space, then `mmdebias run --resume " +
                   dir_.string() + "` evaluates it again and writes the summary");
  }
}

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
