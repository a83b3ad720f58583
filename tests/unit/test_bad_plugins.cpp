// Plugins that break the rules without crashing: garbage entry-symbol fields, registrations that throw
// or fail silently, and factories that throw or return null. Each is refused with one line naming the
// file (or the plugin, instance and type), and leaves the registry as it was.
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "run/disk_space.hpp"
#include "mmdebias/core/errors.hpp"
#include "manifest/option_values.hpp"
#include "mmdebias/core/plugin_host.hpp"
#include "plugin/registry.hpp"

// After LibTorch: glog (pulled in by LibTorch) defines its own CHECK otherwise.
#include <doctest/doctest.h>

namespace fs = std::filesystem;
using namespace mmdebias;

namespace {

fs::path fixture_file(const std::string& name) {
  return fs::path(MMDEBIAS_FIXTURE_DIR) / name / ("mmdebias-" + name + ".so");
}

core::PluginHost load(const fs::path& file) {
  core::PluginHost host;
  core::SearchPath sp;
  sp.cli = {file};
  host.load(sp);
  return host;
}

// Sets an environment variable for one scope.
struct ScopedEnv {
  std::string name;
  ScopedEnv(std::string n, const char* value) : name(std::move(n)) { setenv(name.c_str(), value, 1); }
  ~ScopedEnv() { unsetenv(name.c_str()); }
};

}  // namespace

TEST_CASE("hand-written entry symbols with garbage fields are each refused in one line naming the file") {
  const std::map<std::string, std::string> expected = {
      {"entry_null_info", "its entry symbol mmdebias_plugin_v1 returned null"},
      {"entry_short_struct", "its plugin info is 8 bytes, smaller than the"},
      {"entry_pre_release", "was built against a pre-release SDK 1.0; rebuild it against SDK 1.0 final"},
      {"entry_null_sdk_version", "its plugin info has no sdk_version (null pointer)"},
      {"entry_huge_abi", "built against SDK ABI 4294967295.4294967295"},
      {"entry_unterminated_name", "its plugin name is longer than 64 characters"},
      {"entry_control_name", "its plugin name holds control characters"},
      {"entry_path_name", "plugin name '../evil' may hold only letters"},
      {"entry_null_version", "its plugin info has no version (null pointer)"},
      {"entry_null_compiler", "its plugin info has no compiler (null pointer)"},
      {"entry_null_register", "its plugin info has no registration function"},
      {"entry_raw_throw", "an exception not derived from std::exception escaped its registration function"},
      {"entry_silent_failure", "its registration failed: it returned 7 and gave no message"},
  };
  for (const auto& [name, text] : expected) {
    CAPTURE(name);
    auto host = load(fixture_file(name));
    REQUIRE(host.statuses().size() == 1);
    const auto& s = host.statuses()[0];
    CHECK_FALSE(s.loaded);
    CHECK(s.reason.find('\n') == std::string::npos);
    CHECK(s.reason.rfind("refused " + fixture_file(name).string(), 0) == 0);
    CHECK_MESSAGE(s.reason.find(text) != std::string::npos, s.reason);
    CHECK(host.registry().entries().empty());
  }
}

TEST_CASE("a registration that throws (std::exception or not) is refused and registers nothing") {
  for (const char* how : {"std", "other"}) {
    CAPTURE(how);
    ScopedEnv env("MMDEBIAS_FIXTURE_REGISTER_THROW", how);
    auto host = load(fixture_file("fixture"));
    REQUIRE(host.statuses().size() == 1);
    const auto& s = host.statuses()[0];
    CHECK_FALSE(s.loaded);
    CHECK(s.reason == "refused " + fixture_file("fixture").string() + " (plugin 'fixture'): its registration failed: " +
                          (std::string(how) == "std" ? "deliberate registration failure" : "unknown exception"));
    CHECK(host.registry().entries().empty());
  }
}

TEST_CASE("factories that throw or return null become errors naming plugin and instance and type and hook") {
  auto host = load(fixture_file("fixture"));
  REQUIRE(host.statuses().at(0).loaded);
  const auto& entry = host.registry().get("fixture.bad_factory");
  const std::map<std::string, std::string> expected = {
      {"std", "deliberate factory failure"},
      {"other", "unknown exception (not derived from std::exception)"},
      {"nothing", "the factory returned null"},
  };
  for (const auto& [what, text] : expected) {
    CAPTURE(what);
    sdk::BuildArgs args;
    args.name = "interventions.bad";
    args.options = core::complete_options(entry.decl.schema, {{"what", what}});
    CHECK_THROWS_WITH_AS(host.registry().make_intervention("fixture.bad_factory", args),
                         ("plugin 'fixture', component interventions.bad (fixture.bad_factory), hook construct: " + text).c_str(),
                         core::ComponentError);
  }
}

TEST_CASE("the free-space check names the directory and the bytes needed and free") {
  core::SpaceNeed need;
  need.checkpoint_bytes = 1000;
  need.checkpoints = 3;
  need.margin_bytes = 500;
  CHECK(need.total() == 3500);
  std::optional<uint64_t> free = core::free_bytes(fs::temp_directory_path());
  REQUIRE(free.has_value());
  CHECK_NOTHROW(core::require_free_space(fs::temp_directory_path(), need));
  need.margin_bytes = *free + (1ull << 30);  // more than there is, even if others free a little meanwhile
  try {
    core::require_free_space(fs::temp_directory_path(), need);
    FAIL("no error");
  } catch (const core::InputError& e) {
    std::string m = e.what();
    CHECK(m.find("not enough free space for the run in " + fs::temp_directory_path().string()) != std::string::npos);
    CHECK(m.find("(" + std::to_string(need.total()) + " bytes)") != std::string::npos);
    CHECK(m.find("3 checkpoint(s) of about 0.0 MiB (1000 bytes) each") != std::string::npos);
  }
  CHECK(core::bytes_text(1536 * 1024) == "1.5 MiB (1572864 bytes)");
}
