// docs/manifest.md holds exactly the host-section tables generated from the schemas (so it cannot drift).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "manifest/host_schema.hpp"
#include "test_manifest_support.hpp"

namespace fs = std::filesystem;

TEST_CASE("docs/manifest.md contains the generated host-section reference") {
  const std::string begin = "<!-- BEGIN GENERATED: host sections -->\n";
  const std::string end = "<!-- END GENERATED -->";
  const std::string doc = manifest_test::read_text(fs::path(MMDEBIAS_SOURCE_DIR) / "docs" / "manifest.md");
  const std::string generated = mmdebias::core::manifest_reference_markdown();
  const fs::path fresh = fs::path(MMDEBIAS_BINARY_DIR) / "manifest_reference.md";
  std::ofstream(fresh) << begin << generated << end << "\n";
  auto b = doc.find(begin);
  auto e = doc.find(end);
  REQUIRE_MESSAGE(b != std::string::npos, "docs/manifest.md lacks the marker " << begin);
  REQUIRE_MESSAGE(e != std::string::npos, "docs/manifest.md lacks the marker " << end);
  const std::string block = doc.substr(b + begin.size(), e - b - begin.size());
  CHECK_MESSAGE(block == generated, "docs/manifest.md is out of date with the schemas; replace its generated block "
                                    "with the contents of "
                                        << fresh.string() << " (written by this test)");
}

TEST_CASE("every host section has documented keys") {
  for (const auto& s : mmdebias::core::host_sections()) {
    CAPTURE(s.name);
    CHECK(!s.key_names().empty());
    for (const auto& o : s.options.specs()) CHECK(!o.doc.empty());
  }
  CHECK(mmdebias::core::host_section("train").options.find("epochs")->value);
}
