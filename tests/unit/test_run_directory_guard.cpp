// One writer per run directory (RunLock), what an --out holds before a new run writes there, what --force moves
// aside, and run.name checks. The end-to-end cases (processes, kills, 2 ranks) are tests/cli/run_directory_guard.sh.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "mmdebias/core/errors.hpp"
#include "run/checkpoint_choice.hpp"
#include "run/out_directory.hpp"
#include "run/run_directory.hpp"
#include "run/run_lock.hpp"

#include <doctest/doctest.h>

using namespace mmdebias;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path dir = fs::temp_directory_path() / ("mmdebias-guard-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
  TempDir() { fs::create_directories(dir); }
  ~TempDir() { fs::remove_all(dir); }
  static int& counter() { static int n = 0; return n; }
};

void write(const fs::path& file, const std::string& text) { std::ofstream(file, std::ios::binary) << text; }

std::string refusal(const std::function<void()>& f) {
  try {
    f();
  } catch (const core::InputError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("a run directory has one lock holder at a time, named to the refused one, and the file stays after release") {
  TempDir t;
  {
    core::RunLock first(t.dir, "mmdebias run");
    CHECK(first.unavailable().empty());
    // flock locks belong to an open file: a second open in the same process conflicts as another process would.
    const std::string why = refusal([&] { core::RunLock second(t.dir, "mmdebias eval"); });
    CHECK(why.find(t.dir.string() + " is in use by another mmdebias process: pid " + std::to_string(::getpid()) + " on host ") == 0);
    CHECK(why.find("(mmdebias run, since ") != std::string::npos);
  }
  core::RunLock again(t.dir, "mmdebias run --resume");  // released with its holder
  CHECK(fs::exists(t.dir / core::RunLock::kFileName));
}

TEST_CASE("a lock file that is a symlink is refused, never followed") {
  TempDir t;
  write(t.dir / "elsewhere", "x");
  fs::create_symlink(t.dir / "elsewhere", t.dir / core::RunLock::kFileName);
  CHECK(refusal([&] { core::RunLock lock(t.dir, "mmdebias run"); }).find("is a symbolic link") != std::string::npos);
}

TEST_CASE("an --out is empty, foreign, or a run started, unfinished or finished") {
  TempDir t;
  using core::OutKind;
  CHECK(core::inspect_out_directory(t.dir / "missing").kind == OutKind::Empty);
  // What a start killed before its first write leaves does not make a directory taken.
  write(t.dir / core::RunLock::kFileName, "");
  write(t.dir / ".write-test-12", "");
  fs::create_directory(t.dir / "checkpoints");
  CHECK(core::inspect_out_directory(t.dir).kind == OutKind::Empty);
  write(t.dir / "manifest.yaml", "hand-written");
  write(t.dir / "notes.txt", "mine");
  core::OutDirectory found = core::inspect_out_directory(t.dir);
  CHECK(found.kind == OutKind::Foreign);
  CHECK(found.entries == std::vector<std::string>{"manifest.yaml", "notes.txt"});
  core::RunDirectory run(t.dir);
  run.write_marker();
  CHECK(core::inspect_out_directory(t.dir).kind == OutKind::Started);
  write(run.checkpoints() / "latest", "ckpt-000000010.pt\n");
  found = core::inspect_out_directory(t.dir);
  CHECK(found.kind == OutKind::Unfinished);
  CHECK(found.latest == "ckpt-000000010.pt");
  write(run.summary(), "{}");
  CHECK(core::inspect_out_directory(t.dir).kind == OutKind::Finished);
}

TEST_CASE("a new run is refused over foreign files, an unfinished or a finished run unless forced") {
  TempDir t;
  using core::OutKind;
  CHECK_FALSE(core::check_fresh_start(t.dir, {OutKind::Empty, {}, ""}, false));
  CHECK_FALSE(core::check_fresh_start(t.dir, {OutKind::Started, {}, ""}, false));
  CHECK(refusal([&] { core::check_fresh_start(t.dir, {OutKind::Foreign, {"manifest.yaml"}, ""}, false); })
            .find("is not empty and is not an mmdebias run directory (it holds manifest.yaml)") != std::string::npos);
  CHECK(refusal([&] { core::check_fresh_start(t.dir, {OutKind::Unfinished, {}, "ckpt-000000010.pt"}, false); })
            .find("continue it with `mmdebias run --resume " + t.dir.string() + "`") != std::string::npos);
  CHECK(refusal([&] { core::check_fresh_start(t.dir, {OutKind::Finished, {}, ""}, false); }).find("holds a finished run") !=
        std::string::npos);
  for (OutKind kind : {OutKind::Foreign, OutKind::Unfinished, OutKind::Finished}) CHECK(core::check_fresh_start(t.dir, {kind, {}, ""}, true));
}

TEST_CASE("--force moves aside what a run writes (a link as a link) and leaves other files where they are") {
  TempDir t;
  CHECK(core::set_aside_run_files(t.dir).empty());  // nothing of a run's: no replaced-<time>/
  write(t.dir / "notes.txt", "mine");
  write(t.dir / "manifest.yaml", "hand-written");
  write(t.dir / "eval-test.json", "{}");
  fs::create_directory(t.dir / "target");
  write(t.dir / "target" / "ckpt-000000010.pt", "weights");
  fs::create_directory_symlink(t.dir / "target", t.dir / "checkpoints");
  const fs::path aside = core::set_aside_run_files(t.dir);
  REQUIRE(!aside.empty());
  CHECK(aside.filename().string().rfind("replaced-", 0) == 0);
  CHECK(fs::exists(aside / "manifest.yaml"));
  CHECK(fs::exists(aside / "eval-test.json"));
  CHECK(fs::is_symlink(aside / "checkpoints"));
  CHECK(fs::exists(t.dir / "notes.txt"));
  CHECK(fs::exists(t.dir / "target" / "ckpt-000000010.pt"));
  CHECK_FALSE(fs::exists(t.dir / "manifest.yaml"));
}

TEST_CASE("a run directory refuses a symlinked checkpoints/, and a temp-file-named link is not removed") {
  TempDir t;
  fs::create_directory(t.dir / "target");
  write(t.dir / "target" / "ckpt-000000010.pt.tmp-1", "a killed write, elsewhere");
  fs::create_directory(t.dir / "run");
  fs::create_directory_symlink(t.dir / "target", t.dir / "run" / "checkpoints");
  CHECK(refusal([&] { core::RunDirectory(t.dir / "run").require_real_subdirectories(); }).find("checkpoints is a symbolic link") !=
        std::string::npos);
  fs::create_directory(t.dir / "own");
  fs::create_symlink(t.dir / "target" / "ckpt-000000010.pt.tmp-1", t.dir / "own" / "x.tmp-2");
  core::remove_unfinished_writes(t.dir / "own");
  CHECK(fs::is_symlink(t.dir / "own" / "x.tmp-2"));
  CHECK(fs::exists(t.dir / "target" / "ckpt-000000010.pt.tmp-1"));
}

TEST_CASE("run.name must be a plain, short file name, and a fresh run directory is made, never reused") {
  TempDir t;
  for (const std::string& name : {std::string("../../x"), std::string("a/b"), std::string(".."), std::string(), std::string(300, 'n')})
    CHECK(refusal([&] { core::RunDirectory::fresh(t.dir / "runs", name); }).rfind("run.name: ", 0) == 0);
  CHECK_FALSE(fs::exists(t.dir / "x"));
  const fs::path a = core::RunDirectory::fresh(t.dir / "runs", "same");
  const fs::path b = core::RunDirectory::fresh(t.dir / "runs", "same");
  CHECK(a != b);
  CHECK(fs::is_directory(a));
  CHECK(fs::is_directory(b));
  CHECK(core::RunDirectory::written_by_runs("metrics.jsonl.tmp-12"));
  CHECK(core::RunDirectory::written_by_runs("eval-scores-test.csv"));
  CHECK_FALSE(core::RunDirectory::written_by_runs("notes.txt"));
  CHECK_FALSE(core::RunDirectory::written_by_runs(core::RunLock::kFileName));
}
