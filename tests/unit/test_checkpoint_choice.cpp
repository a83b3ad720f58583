// Which checkpoint a resume starts from: a checkpoint that does not verify (bad digest, truncated, no
// sidecar, missing, a `latest` that names nothing usable) is refused with the newest earlier good one
// offered; --checkpoint picks one; later checkpoints are set aside. Stop requests from SIGTERM/SIGINT.
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "run/checkpoint.hpp"
#include "run/checkpoint_choice.hpp"
#include "mmdebias/core/errors.hpp"
#include "common/sha256.hpp"
#include "mmdebias/core/stop_request.hpp"

#include <doctest/doctest.h>

using namespace mmdebias;
namespace fs = std::filesystem;

namespace {

struct CheckpointDir {
  fs::path dir = fs::temp_directory_path() / ("mmdebias-choice-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
  CheckpointDir() { fs::create_directories(dir); }
  ~CheckpointDir() { fs::remove_all(dir); }
  static int& counter() { static int n = 0; return n; }

  static void write(const fs::path& file, const std::string& text) { std::ofstream(file, std::ios::binary) << text; }
  fs::path file(int step) const {
    char name[64];
    std::snprintf(name, sizeof name, "ckpt-%09d.pt", step);
    return dir / name;
  }
  // A checkpoint-like file with a correct sidecar (choice checks digests, not contents).
  fs::path add(int step) const {
    const std::string body = "checkpoint of step " + std::to_string(step);
    write(file(step), body);
    write(file(step).string() + ".sha256", core::sha256_bytes(body.data(), body.size()) + "\n");
    return file(step);
  }
  void point_latest_at(const std::string& name) const { write(dir / "latest", name + "\n"); }
};

std::string refusal(const CheckpointDir& c, const std::string& requested = "") {
  try {
    core::choose_checkpoint(c.dir, requested, "mmdebias run --resume RUN");
  } catch (const core::InputError& e) {
    return e.what();
  }
  return "(accepted)";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("checkpoints are listed newest first, and sidecars, temp files and others are not checkpoints") {
  CheckpointDir c;
  c.add(10), c.add(200), c.add(30);
  CheckpointDir::write(c.dir / "ckpt-000000040.pt.tmp-123", "x");
  CheckpointDir::write(c.dir / "ckpt-abc.pt", "x");
  auto all = core::list_checkpoints(c.dir);
  REQUIRE(all.size() == 3);
  CHECK(all[0].step == 200);
  CHECK(all[1].step == 30);
  CHECK(all[2].step == 10);
}

TEST_CASE("no latest means nothing to resume, and a good latest is chosen") {
  CheckpointDir c;
  CHECK_FALSE(core::choose_checkpoint(c.dir, "", "x").has_value());
  c.add(10), c.add(20);
  c.point_latest_at("ckpt-000000020.pt");
  CHECK(core::choose_checkpoint(c.dir, "", "x") == c.file(20));
}

TEST_CASE("each corruption of the latest checkpoint is refused, naming it, with the previous good one offered") {
  const std::string offer = "the previous good checkpoint is ckpt-000000020.pt (step 20): continue from it with "
                            "`mmdebias run --resume RUN --checkpoint ckpt-000000020.pt`";
  SUBCASE("a byte changed") {
    CheckpointDir c;
    c.add(10), c.add(20), c.add(30);
    c.point_latest_at("ckpt-000000030.pt");
    CheckpointDir::write(c.file(30), "checkpoint of step 31");
    std::string m = refusal(c);
    CHECK(contains(m, "checkpoint " + c.file(30).string() + " is corrupt or truncated: its sha256 is "));
    CHECK(contains(m, offer));
  }
  SUBCASE("truncated") {
    CheckpointDir c;
    c.add(10), c.add(20), c.add(30);
    c.point_latest_at("ckpt-000000030.pt");
    fs::resize_file(c.file(30), 5);
    CHECK(contains(refusal(c), "is corrupt or truncated"));
    CHECK(contains(refusal(c), offer));
  }
  SUBCASE("no sidecar") {
    CheckpointDir c;
    c.add(10), c.add(20), c.add(30);
    c.point_latest_at("ckpt-000000030.pt");
    fs::remove(c.file(30).string() + ".sha256");
    CHECK(contains(refusal(c), "has no ckpt-000000030.pt.sha256 beside it: it was never completed"));
    CHECK(contains(refusal(c), offer));
  }
  SUBCASE("an empty sidecar") {
    CheckpointDir c;
    c.add(20), c.add(30);
    c.point_latest_at("ckpt-000000030.pt");
    CheckpointDir::write(c.file(30).string() + ".sha256", "");
    CHECK(contains(refusal(c), "the sidecar says nothing (it is empty)"));
    CHECK(contains(refusal(c), offer));
  }
  SUBCASE("latest names a missing file") {
    CheckpointDir c;
    c.add(10), c.add(20);
    c.point_latest_at("ckpt-000000030.pt");
    std::string m = refusal(c);
    CHECK(contains(m, "checkpoint " + c.file(30).string() + " does not exist (" + (c.dir / "latest").string() + " names it)"));
    CHECK(contains(m, offer));
  }
  SUBCASE("latest holds something else") {
    CheckpointDir c;
    c.add(10), c.add(20);
    c.point_latest_at("../../etc/passwd");
    std::string m = refusal(c);
    CHECK(contains(m, "should name a checkpoint (ckpt-<step>.pt) but holds '../../etc/passwd'"));
    CHECK(contains(m, offer));
  }
  SUBCASE("the newest earlier one is bad too: the one before it is offered") {
    CheckpointDir c;
    c.add(10), c.add(20), c.add(25), c.add(30);
    c.point_latest_at("ckpt-000000030.pt");
    fs::resize_file(c.file(30), 3);
    fs::resize_file(c.file(25), 3);
    CHECK(contains(refusal(c), offer));
  }
  SUBCASE("none verifies") {
    CheckpointDir c;
    c.add(10), c.add(30);
    c.point_latest_at("ckpt-000000030.pt");
    fs::resize_file(c.file(30), 3);
    fs::resize_file(c.file(10), 3);
    CHECK(contains(refusal(c), "no earlier checkpoint in " + c.dir.string() + " verifies"));
  }
}

TEST_CASE("--checkpoint picks a named checkpoint, refuses a bad one with the previous good one offered") {
  CheckpointDir c;
  c.add(10), c.add(20), c.add(30);
  c.point_latest_at("ckpt-000000030.pt");
  CHECK(core::choose_checkpoint(c.dir, "ckpt-000000020.pt", "x") == c.file(20));
  CHECK(core::choose_checkpoint(c.dir, c.file(10).string(), "x") == c.file(10));  // a path into the same directory
  fs::resize_file(c.file(20), 2);
  std::string m = refusal(c, "ckpt-000000020.pt");
  CHECK(contains(m, "is corrupt or truncated"));
  CHECK(contains(m, "the previous good checkpoint is ckpt-000000010.pt (step 10)"));
  CHECK(contains(refusal(c, "ckpt-000000040.pt"), "does not exist"));
  CHECK(contains(refusal(c, "latest"), "--checkpoint latest: expected the name of a checkpoint in"));
  CHECK(contains(refusal(c, "/elsewhere/ckpt-000000010.pt"), "expected the name of a checkpoint in"));
}

TEST_CASE("continuing from an earlier checkpoint sets later ones aside and points latest at it") {
  CheckpointDir c;
  c.add(10), c.add(20), c.add(30);
  c.point_latest_at("ckpt-000000030.pt");
  auto moved = core::set_aside_later_checkpoints(c.dir, c.file(10));
  CHECK(moved == std::vector<std::string>{"ckpt-000000030.pt", "ckpt-000000020.pt"});
  CHECK(fs::exists(c.dir / "discarded" / "ckpt-000000030.pt"));
  CHECK(fs::exists(c.dir / "discarded" / "ckpt-000000020.pt.sha256"));
  CHECK_FALSE(fs::exists(c.file(20)));
  CHECK(core::choose_checkpoint(c.dir, "", "x") == c.file(10));
  CHECK(core::list_checkpoints(c.dir).size() == 1);
}

TEST_CASE("temporary files of a killed write are removed, checkpoints are not") {
  CheckpointDir c;
  c.add(10);
  CheckpointDir::write(c.dir / "ckpt-000000020.pt.tmp-999", "half");
  CheckpointDir::write(c.dir / "latest.tmp-999", "half");
  core::remove_unfinished_writes(c.dir);
  CHECK_FALSE(fs::exists(c.dir / "ckpt-000000020.pt.tmp-999"));
  CHECK_FALSE(fs::exists(c.dir / "latest.tmp-999"));
  CHECK(core::checkpoint_problem(c.file(10)).empty());
}

TEST_CASE("SIGTERM and SIGINT inside a StopSignalScope only record a stop request, and the old handlers return after it") {
  core::clear_stop_request();
  struct sigaction before {};
  ::sigaction(SIGTERM, nullptr, &before);
  {
    core::StopSignalScope scope;
    CHECK(core::stop_signal_received() == 0);
    ::raise(SIGTERM);  // would end the test run without the scope
    CHECK(core::stop_signal_received() == SIGTERM);
    ::raise(SIGTERM);  // a repeated SIGTERM changes nothing
    CHECK(core::stop_signal_received() == SIGTERM);
  }
  struct sigaction after {};
  ::sigaction(SIGTERM, nullptr, &after);
  CHECK(reinterpret_cast<void*>(after.sa_handler) == reinterpret_cast<void*>(before.sa_handler));
  core::clear_stop_request();
  CHECK(core::stop_signal_received() == 0);
  core::request_stop(SIGINT);
  core::request_stop(SIGTERM);  // the first request is the one reported
  CHECK(core::stop_signal_received() == SIGINT);
  CHECK(std::string(core::signal_name(SIGINT)) == "SIGINT");
  CHECK(core::exit_code_for_signal(SIGTERM) == 143);
  core::clear_stop_request();
}

TEST_CASE("a signal the process inherited as ignored stays ignored inside the scope") {
  core::clear_stop_request();
  struct sigaction ignore {}, saved {};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGINT, &ignore, &saved);
  {
    core::StopSignalScope scope;
    ::raise(SIGINT);
    CHECK(core::stop_signal_received() == 0);
  }
  ::sigaction(SIGINT, &saved, nullptr);
}
