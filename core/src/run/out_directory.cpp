#include "run/out_directory.hpp"

#include <algorithm>

#include "common/text.hpp"
#include "mmdebias/core/errors.hpp"
#include "run/checkpoint.hpp"
#include "run/run_directory.hpp"
#include "run/run_lock.hpp"

namespace mmdebias::core {
namespace fs = std::filesystem;
namespace {

// What a start killed before its first write leaves (the lock file, half a marker, a write probe; an older
// mmdebias made checkpoints/ first), or what a process starting beside us shows for a moment: none of it
// makes the directory taken.
bool left_before_first_write(const fs::directory_entry& entry) {
  const std::string name = entry.path().filename().string();
  if (name == RunLock::kFileName || name.rfind(".write-test-", 0) == 0 || name.rfind(".mmdebias-run.tmp-", 0) == 0) return true;
  std::error_code ec;
  return name == "checkpoints" && entry.symlink_status(ec).type() == fs::file_type::directory && fs::is_empty(entry.path(), ec);
}

bool is_present(const fs::path& path) {
  std::error_code ec;
  return fs::symlink_status(path, ec).type() != fs::file_type::not_found && !ec;
}

// "a, b, c and 4 more".
std::string listing(const std::vector<std::string>& names) {
  constexpr size_t kShown = 5;
  std::vector<std::string> shown(names.begin(), names.begin() + static_cast<std::ptrdiff_t>(std::min(names.size(), kShown)));
  std::string text = join(shown);
  if (names.size() > kShown) text += " and " + std::to_string(names.size() - kShown) + " more";
  return text;
}

std::string foreign_refusal(const fs::path& dir, const std::vector<std::string>& entries) {
  std::vector<std::string> ours;
  for (const std::string& name : entries)
    if (RunDirectory::written_by_runs(name)) ours.push_back(name);
  std::string message = "--out " + dir.string() + " is not empty and is not an mmdebias run directory (it holds " + listing(entries) +
                        "): choose a new or empty directory, or pass --force to run there anyway (";
  message += ours.empty() ? "its files are left as they are)"
                          : listing(ours) + " would be moved to " + (dir / "replaced-<time>").string() +
                                "/, nothing is deleted, other files are left as they are)";
  // A run of an mmdebias from before the marker holds these; it is not treated as ours, but it resumes.
  if (is_present(dir / "manifest.yaml") && is_present(dir / "checkpoints" / "latest"))
    message += "; if it is a run of an earlier mmdebias, continue it with `mmdebias run --resume " + dir.string() + "`";
  return message;
}

}  // namespace

OutDirectory inspect_out_directory(const fs::path& dir) {
  OutDirectory found;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return found;  // missing, or no directory (which creating it will name)
  const RunDirectory run(dir);
  if (fs::symlink_status(run.marker(), ec).type() == fs::file_type::regular) {
    std::optional<fs::path> latest = latest_checkpoint(run.checkpoints());
    found.kind = is_present(run.summary()) ? OutKind::Finished : latest ? OutKind::Unfinished : OutKind::Started;
    if (latest) found.latest = latest->filename().string();
    return found;
  }
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (!left_before_first_write(*it)) found.entries.push_back(it->path().filename().string());
  if (ec) throw InputError("cannot read the directory " + dir.string() + ": " + ec.message() + "; choose another --out");
  std::sort(found.entries.begin(), found.entries.end());
  found.kind = found.entries.empty() ? OutKind::Empty : OutKind::Foreign;
  return found;
}

bool check_fresh_start(const fs::path& dir, const OutDirectory& found, bool force) {
  const std::string aside = (dir / "replaced-<time>").string() + "/";
  switch (found.kind) {
    case OutKind::Empty:
    case OutKind::Started:  // what an earlier start wrote is replaced: it trained nothing
      return false;
    case OutKind::Foreign:
      if (!force) throw InputError(foreign_refusal(dir, found.entries));
      return true;
    case OutKind::Unfinished:
      if (!force)
        throw InputError(dir.string() + " already holds a run (its latest checkpoint is " + found.latest +
                         "); continue it with `mmdebias run --resume " + dir.string() +
                         "`, choose another --out, or pass --force to start a new run there (the old run's files are moved to " +
                         aside + ", nothing is deleted)");
      return true;
    case OutKind::Finished:
      if (!force)
        throw InputError(dir.string() + " holds a finished run (" + RunDirectory(dir).summary().string() +
                         "); choose another --out, or pass --force to start a new run there (the finished run's files are moved to " +
                         aside + ", nothing is deleted)");
      return true;
  }
  return false;
}

fs::path set_aside_run_files(const fs::path& dir) {
  std::vector<std::string> moving;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (RunDirectory::written_by_runs(it->path().filename().string())) moving.push_back(it->path().filename().string());
  if (ec) throw InputError("cannot read the directory " + dir.string() + ": " + ec.message());
  if (moving.empty()) return {};
  const fs::path aside = create_stamped_directory(dir, "replaced");
  for (const std::string& name : moving) {
    fs::rename(dir / name, aside / name, ec);  // rename moves a link itself, never what it points at
    if (ec)
      throw RunError("cannot move " + (dir / name).string() + " to " + aside.string() + "/: " + ec.message() +
                     "; nothing was deleted, the files not yet moved are where they were");
  }
  return aside;
}

}  // namespace mmdebias::core
