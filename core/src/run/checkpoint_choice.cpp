#include "run/checkpoint_choice.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "common/text.hpp"
#include "mmdebias/core/errors.hpp"
#include "run/checkpoint.hpp"

namespace mmdebias::core {
namespace fs = std::filesystem;
namespace {

// The step in a name ckpt-<digits>.pt, or -1 when the name is not a checkpoint's.
int64_t step_of(const std::string& name) {
  const std::string prefix = "ckpt-", suffix = ".pt";
  if (name.size() <= prefix.size() + suffix.size() || name.rfind(prefix, 0) != 0 ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return -1;
  const std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  if (digits.empty() || digits.size() > 18 || !std::all_of(digits.begin(), digits.end(), ::isdigit)) return -1;
  return std::stoll(digits);
}

// "the previous good checkpoint is ... resume from it with ..." for the newest verified one before `step`
// (any step when step < 0), or why there is none.
std::string offer(const fs::path& dir, int64_t step, const fs::path& refused, const std::string& retry_command) {
  for (const CheckpointFile& c : list_checkpoints(dir)) {
    if ((step >= 0 && c.step >= step) || c.file == refused) continue;
    if (!checkpoint_problem(c.file).empty()) continue;
    const std::string name = c.file.filename().string();
    return "the previous good checkpoint is " + name + " (step " + std::to_string(c.step) + "): continue from it with `" +
           retry_command + " --checkpoint " + name + "`";
  }
  return "no earlier checkpoint in " + dir.string() + " verifies, so the run cannot be continued: start it again into a new "
         "directory (mmdebias run " + (dir.parent_path() / "manifest.yaml").string() + " --out NEW_DIR)";
}

}  // namespace

std::vector<CheckpointFile> list_checkpoints(const fs::path& dir) {
  std::vector<CheckpointFile> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    int64_t step = step_of(it->path().filename().string());
    if (step >= 0 && it->is_regular_file(ec)) out.push_back({step, it->path()});
  }
  std::sort(out.begin(), out.end(), [](const CheckpointFile& a, const CheckpointFile& b) { return a.step > b.step; });
  return out;
}

std::optional<fs::path> choose_checkpoint(const fs::path& dir, const std::string& requested, const std::string& retry_command) {
  if (!requested.empty()) {
    const std::string name = fs::path(requested).filename().string();
    const int64_t step = step_of(name);
    std::error_code ec;
    if (step < 0 || (fs::path(requested).has_parent_path() && !fs::equivalent(fs::path(requested).parent_path(), dir, ec)))
      throw InputError("--checkpoint " + requested + ": expected the name of a checkpoint in " + dir.string() +
                       " (ckpt-<step>.pt; ls " + dir.string() + ")");
    const fs::path file = dir / name;
    if (std::string problem = checkpoint_problem(file); !problem.empty())
      throw InputError(problem + "; " + offer(dir, step, file, retry_command));
    return file;
  }
  const fs::path pointer = dir / "latest";
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(pointer, ec))) return std::nullopt;
  const std::string name = read_checkpoint_pointer(pointer);
  const int64_t step = step_of(name);
  if (step < 0 || fs::path(name).has_parent_path())
    throw InputError(pointer.string() + " should name a checkpoint (ckpt-<step>.pt) but holds '" + excerpt(name) + "'; " +
                     offer(dir, -1, {}, retry_command));
  const fs::path file = dir / name;
  if (std::string problem = checkpoint_problem(file); !problem.empty())
    throw InputError(problem + " (" + pointer.string() + " names it); " + offer(dir, step, file, retry_command));
  return file;
}

std::vector<std::string> set_aside_later_checkpoints(const fs::path& dir, const fs::path& chosen) {
  const int64_t step = step_of(chosen.filename().string());
  std::vector<std::string> moved;
  for (const CheckpointFile& c : list_checkpoints(dir)) {
    if (c.step <= step) continue;
    fs::create_directories(dir / "discarded");
    for (const fs::path& f : {c.file, fs::path(c.file.string() + ".sha256")}) {
      std::error_code ec;
      if (fs::exists(f, ec)) fs::rename(f, dir / "discarded" / f.filename());
    }
    moved.push_back(c.file.filename().string());
  }
  write_file_atomically(dir / "latest", chosen.filename().string() + "\n");
  return moved;
}

void remove_unfinished_writes(const fs::path& dir) {
  std::error_code ec;
  std::vector<fs::path> stale;
  // Only regular files: what a write leaves. A link of that name is not ours (and is never followed).
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().filename().string().find(".tmp-") != std::string::npos && it->symlink_status(ec).type() == fs::file_type::regular)
      stale.push_back(it->path());
  for (const fs::path& f : stale) fs::remove(f, ec);
}

}  // namespace mmdebias::core
