// Golden-message tests: each bad manifest in tests/manifests/ reports exactly the lines in its .expected file.
#include <doctest/doctest.h>

#include <sstream>

#include "plugin/registry.hpp"
#include "test_manifest_support.hpp"

namespace fs = std::filesystem;
using namespace mmdebias;
using manifest_test::host;

namespace {

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// The registry's own listing in a message is checked here against the registry and written as a placeholder, so
// that adding a component to a plugin changes no .expected file: "registered encoders: <all>" and
// "registered components that provide it: <all>". A listing that is not exactly the
// registry's stays as it is, and the comparison with the .expected file fails on it.
std::string with_listings_checked(std::string text) {
  const auto& registry = host().registry();
  const std::pair<const char*, mmdebias::sdk::ComponentKind> kinds[] = {
      {"datasets", mmdebias::sdk::ComponentKind::Dataset},       {"encoders", mmdebias::sdk::ComponentKind::Encoder},
      {"fusions", mmdebias::sdk::ComponentKind::Fusion},         {"bias estimators", mmdebias::sdk::ComponentKind::BiasEstimator},
      {"interventions", mmdebias::sdk::ComponentKind::Intervention}, {"scorers", mmdebias::sdk::ComponentKind::Scorer},
      {"sinks", mmdebias::sdk::ComponentKind::Sink}};
  for (const auto& [plural, kind] : kinds) {
    const std::string listed = std::string("registered ") + plural + ": " + joined(registry.names(kind));
    for (size_t pos; (pos = text.find(listed)) != std::string::npos;)
      text.replace(pos, listed.size(), std::string("registered ") + plural + ": <all>");
  }
  // "... needs 'X', which no other component ... provides; ...; registered components that provide it: a, b"
  std::string out, line;
  std::istringstream lines(text);
  while (std::getline(lines, line)) {
    const std::string needs = "needs '", tail = "registered components that provide it: ";
    const size_t n = line.find(needs), t = line.find(tail);
    if (n != std::string::npos && t != std::string::npos) {
      const std::string capability = line.substr(n + needs.size(), line.find('\'', n + needs.size()) - n - needs.size());
      std::vector<std::string> providers;
      for (const auto* e : registry.entries())
        for (const auto& p : e->decl.provides)
          if (p == capability) providers.push_back(e->full_name);
      if (line.substr(t + tail.size()) == joined(providers)) line = line.substr(0, t + tail.size()) + "<all>";
    }
    out += line + "\n";
  }
  return out;
}

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
  return with_listings_checked(out);
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
