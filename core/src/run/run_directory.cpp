#include "run/run_directory.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <set>
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

void RunDirectory::make_writable() const {
  std::error_code ec;
  // Only a missing directory is created: create_directories on an existing read-only one fails with EACCES
  // in some builds (seen under ASan), which would misname the problem.
  if (!fs::is_directory(dir_, ec)) fs::create_directories(dir_, ec);
  if (ec)
    throw InputError("cannot create the run directory " + dir_.string() + ": " + ec.message() +
                     "; choose another --out or fix its permissions");
  probe_writable(dir_);
}

void RunDirectory::require_real_subdirectories() const {
  for (const fs::path& sub : {checkpoints(), checkpoints() / "discarded", scorers()}) {
    std::error_code ec;
    if (!fs::is_symlink(fs::symlink_status(sub, ec))) continue;
    throw InputError(sub.string() + " is a symbolic link (to " + fs::read_symlink(sub, ec).string() +
                     "): runs delete and replace files in " + sub.filename().string() +
                     "/ and will not do so in what a link points at; make it a real directory (to keep a run on "
                     "another disk, give that disk's path as --out)");
  }
}

void RunDirectory::remove_unfinished_writes() const {
  std::error_code ec;
  std::vector<fs::path> stale;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.find(".tmp-") != std::string::npos && written_by_runs(name) && it->symlink_status(ec).type() == fs::file_type::regular)
      stale.push_back(it->path());
  }
  for (const fs::path& f : stale) fs::remove(f, ec);
}

void RunDirectory::write_marker() const {
  write_file_atomically(marker(), "An mmdebias run directory: `mmdebias run --out` starts a new run only where this file is, "
                                  "or in an empty directory, unless given --force.\n");
}

std::string RunDirectory::append_metrics(const nlohmann::json& line) {
  if (!metrics_.is_open()) {
    metrics_.open(metrics(), std::ios::app);
    if (!metrics_) throw RunError("cannot open " + metrics().string() + ": " + std::strerror(errno));
  }
  std::string text = line.dump();
  metrics_ << text << '\n';
  metrics_.flush();
  // A full disk shows here, not as a lost line: stop the run (its last checkpoint stays intact).
  if (!metrics_) throw RunError("cannot append to " + metrics().string() + ": " + std::strerror(errno) +
                                "; the run stopped, its last checkpoint is intact");
  return text;
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

bool RunDirectory::written_by_runs(const std::string& name) {
  static const std::set<std::string> files = {".mmdebias-run", "manifest.yaml", "resolved.yaml", "log.txt", "metrics.jsonl",
                                              "checkpoints",   "scorers",       "summary.json",  "report.html",
                                              "tensorboard"};  // the TensorBoard sink's default directory
  const std::string base = name.substr(0, name.find(".tmp-"));  // a write a killed process left
  auto ends_with = [&](const char* suffix) {
    const size_t n = std::strlen(suffix);
    return base.size() > n && base.compare(base.size() - n, n, suffix) == 0;
  };
  return files.count(base) > 0 || (base.rfind("eval-", 0) == 0 && (ends_with(".json") || ends_with(".csv"))) ||
         (base.rfind("compare-", 0) == 0 && ends_with(".html"));
}

fs::path RunDirectory::fresh(const fs::path& parent, const std::string& name) {
  // The name becomes one path component with "-<YYYYmmdd-HHMMSS>-N" appended: 200 bytes leave room for that
  // within the usual 255-byte limit, so the error names run.name rather than the filesystem's ENAMETOOLONG.
  constexpr size_t kLongest = 200;
  auto refuse = [&](const std::string& why) {
    throw InputError("run.name: '" + (name.size() > 60 ? name.substr(0, 60) + "..." : name) + "' " + why +
                     "; the run directory is <run.out>/<run.name>-<time> (to write elsewhere, set run.out or pass --out)");
  };
  if (name.empty() || name == "." || name == "..") refuse("is not a name");
  if (name.find('/') != std::string::npos) refuse("holds '/': it must be a plain name, not a path (it would leave run.out)");
  if (std::any_of(name.begin(), name.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }))
    refuse("holds a control character");
  if (name.size() > kLongest)
    refuse("is " + std::to_string(name.size()) + " bytes long; at most " + std::to_string(kLongest) + " are allowed");

  return create_stamped_directory(parent, name);
}

fs::path create_stamped_directory(const fs::path& parent, const std::string& prefix) {
  std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
  const fs::path base = parent / (prefix + "-" + stamp);
  std::error_code ec;
  fs::create_directories(parent, ec);  // a failure shows below, naming the directory
  for (int i = 1;; ++i) {
    fs::path candidate = i == 1 ? base : fs::path(base.string() + "-" + std::to_string(i));
    // create_directory is mkdir: of two processes that pick the same name, one gets false and tries the next.
    if (fs::create_directory(candidate, ec)) return candidate;
    if (ec)
      throw InputError("cannot create the directory " + candidate.string() + ": " + ec.message() +
                       "; choose another --out or fix its permissions");
  }
}

}  // namespace mmdebias::core
