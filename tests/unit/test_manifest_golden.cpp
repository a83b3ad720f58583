// Golden-message tests: each bad manifest in tests/manifests/ reports exactly the lines in its .expected file.
#include <doctest/doctest.h>

#include "test_manifest_support.hpp"

namespace fs = std::filesystem;
using namespace mmdebias;
using manifest_test::host;

namespace {

// Validates one manifest file; the messages with the directory prefix removed, one per line.
std::string golden_output(const std::string& name) {
  const fs::path file = manifest_test::manifests_dir() / (name + ".yaml");
  std::string out;
  try {
    core::Manifest m = core::load_manifest(file);
    core::validate_manifest(m, host().registry());
    return "(valid)\n";
  } catch (const core::InputErrors& e) {
    for (const auto& msg : e.messages()) out += msg + "\n";
  } catch (const core::InputError& e) {
    out = std::string(e.what()) + "\n";
  }
  const std::string prefix = file.parent_path().string() + "/";
  for (size_t pos; (pos = out.find(prefix)) != std::string::npos;) out.erase(pos, prefix.size());
  return out;
}

}  // namespace

TEST_CASE("golden: every bad manifest reports exactly its expected lines") {
  const char* names[] = {"misspelled_key", "wrong_type",      "out_of_range",     "unknown_type",
                         "missing_encoder", "extra_encoder",  "bad_version",      "unmet_capability",
                         "yaml_syntax",     "exclusive_hooks", "missing_required", "several_errors"};
  for (const std::string name : names) {
    CAPTURE(name);
    const fs::path expected_file = manifest_test::manifests_dir() / (name + ".expected");
    REQUIRE_MESSAGE(fs::exists(expected_file), "missing " << expected_file);
    const std::string actual = golden_output(name);
    // After a deliberate change of messages, copy <build>/manifest_golden/<name>.actual over the .expected file.
    const fs::path actual_dir = fs::path(MMDEBIAS_BINARY_DIR) / "manifest_golden";
    fs::create_directories(actual_dir);
    std::ofstream(actual_dir / (name + ".actual")) << actual;
    CHECK_MESSAGE(actual == manifest_test::read_text(expected_file),
                  "actual output written to " << (actual_dir / (name + ".actual")).string());
  }
}

TEST_CASE("golden: the valid manifest validates") {
  CHECK(golden_output("valid") == "(valid)\n");
}
