// Child processes of `plugins --verify`: exit codes, signals, timeouts, large output, and how reports become statuses.
#include <chrono>
#include <csignal>
#include <filesystem>

#include "mmdebias/core/errors.hpp"
#include "mmdebias/core/plugin_verify.hpp"

// After LibTorch: glog (pulled in by LibTorch) defines its own CHECK otherwise.
#include <doctest/doctest.h>

using namespace mmdebias;
using namespace std::chrono_literals;

TEST_CASE("run_child captures stdout, stderr and the exit code") {
  core::ChildOutcome c = core::run_child({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}, 10s);
  CHECK_FALSE(c.timed_out);
  CHECK(c.exit_code == 3);
  CHECK(c.signal == 0);
  CHECK(c.out == "out\n");
  CHECK(c.err == "err\n");
}

TEST_CASE("run_child reports the signal that killed the child") {
  core::ChildOutcome c = core::run_child({"/bin/sh", "-c", "kill -SEGV $$"}, 10s);
  CHECK(c.signal == SIGSEGV);
  CHECK(c.exit_code == -1);
}

TEST_CASE("run_child kills a child past the deadline, even one that keeps its pipes open") {
  auto start = std::chrono::steady_clock::now();
  core::ChildOutcome c = core::run_child({"/bin/sh", "-c", "exec sleep 30"}, 300ms);
  CHECK(c.timed_out);
  CHECK(std::chrono::steady_clock::now() - start < 5s);
}

TEST_CASE("run_child drains more output than a pipe holds") {
  core::ChildOutcome c = core::run_child({"/bin/sh", "-c", "head -c 1000000 /dev/zero; head -c 200000 /dev/zero >&2"}, 30s);
  CHECK(c.exit_code == 0);
  CHECK(c.out.size() == 1000000);
  CHECK(c.err.size() == 64 * 1024);  // stderr keeps its tail only
}

TEST_CASE("run_child says when the program cannot be started") {
  CHECK_THROWS_AS(core::run_child({"/nonexistent/mmdebias"}, 1s), core::RunError);
}

TEST_CASE("verify_plugins turns each child's report into a status; files of one plugin follow the duplicate rule") {
  // A fake child: prints a loaded report for a plugin named after the file's stem, after other output.
  std::vector<std::string> child = {"/bin/sh", "-c",
                                    "echo noise; n=$(basename \"$1\" .so); "
                                    "echo '{\"plugins\":[{\"name\":\"'$n'\",\"status\":\"loaded\",\"components\":[]}]}'",
                                    "sh"};
  auto r = core::verify_plugins({{"/x/mmdebias-a.so"}, {"/y/mmdebias-a.so"}, {"/y/mmdebias-b.so"}}, child, 10s);
  REQUIRE(r.size() == 3);
  CHECK(r[0].status == core::VerifyStatus::Refused);
  CHECK(r[1].status == core::VerifyStatus::Refused);
  CHECK(r[1].reason.find("provided by 2 files on the search path: /x/mmdebias-a.so and /y/mmdebias-a.so") != std::string::npos);
  CHECK(r[2].status == core::VerifyStatus::Loaded);
  CHECK_FALSE(core::any_failed({r[2]}));
  CHECK(core::any_failed(r));
  CHECK(core::verify_json(r)["ok"] == false);

  // Given directly: chosen; the other is skipped by its file name, without a child (no report, no name).
  auto chosen = core::verify_plugins({{"/x/mmdebias-a.so"}, {"/y/mmdebias-a.so", true}}, child, 10s);
  CHECK(chosen[0].status == core::VerifyStatus::Skipped);
  CHECK(chosen[0].plugin.is_null());
  CHECK(chosen[0].reason.find("taken from /y/mmdebias-a.so given with --plugin-path") != std::string::npos);
  CHECK(chosen[1].status == core::VerifyStatus::Loaded);
  CHECK_FALSE(core::any_failed(chosen));
  CHECK(core::verify_text(chosen).find("1 loaded, 1 skipped, 0 refused") != std::string::npos);
}

TEST_CASE("given_plugin_files: each argument must be a file named mmdebias-<name>.so") {
  CHECK_THROWS_WITH_AS(core::given_plugin_files({"/nonexistent/mmdebias-x.so"}),
                       doctest::Contains("/nonexistent/mmdebias-x.so is not a plugin file"), core::InputErrors);
  CHECK_THROWS_WITH_AS(core::given_plugin_files({"/bin/sh"}), doctest::Contains("/bin/sh is not a plugin file"), core::InputErrors);
  auto files = core::given_plugin_files({std::string(MMDEBIAS_PLUGIN_DIR) + "/mmdebias-std.so"});
  REQUIRE(files.size() == 1);
  CHECK(files[0].direct);
}

TEST_CASE("verify_plugins names a plugin that crashed after opening, and one that exited without a report") {
  auto crashed = core::verify_plugins(
      {{"/p/c.so"}}, {"/bin/sh", "-c", "echo '{\"opened\":{\"name\":\"c\",\"version\":\"1\"}}'; echo dying >&2; kill -ABRT $$", "sh"}, 10s);
  REQUIRE(crashed.size() == 1);
  CHECK(crashed[0].status == core::VerifyStatus::Crashed);
  CHECK(crashed[0].signal == "SIGABRT");
  CHECK(crashed[0].plugin["name"] == "c");
  CHECK(crashed[0].reason.find("while registering its components") != std::string::npos);
  CHECK(crashed[0].stderr_tail == "dying");
  CHECK(core::verify_text(crashed).find("crashed   c 1  /p/c.so") != std::string::npos);

  auto failed = core::verify_plugins({{"/p/d.so"}}, {"/bin/sh", "-c", "exit 7", "sh"}, 10s);
  CHECK(failed[0].status == core::VerifyStatus::Failed);
  CHECK(failed[0].reason.find("exited with code 7") != std::string::npos);
}
