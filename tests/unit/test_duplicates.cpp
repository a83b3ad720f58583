// The duplicate rule (plugin/duplicates.hpp) as a pure function: which of several files providing one plugin
// name is used, skipped, or an error, and what each message says.
#include <string>
#include <vector>

#include "plugin/duplicates.hpp"

#include <doctest/doctest.h>

using namespace mmdebias::core;

namespace {

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("files providing distinct plugin names, or none, are all used") {
  auto d = decide_duplicates({{"/a/mmdebias-x.so", false, "x"}, {"/a/mmdebias-y.so", false, "y"},
                              {"/b/mmdebias-x.so", false, ""}});  // not opened, or refused: provides none
  REQUIRE(d.size() == 3);
  for (const auto& one : d) CHECK(one.verdict == DuplicateVerdict::Use);
}

TEST_CASE("two files of one plugin, none given directly: both an error naming both and how to choose") {
  auto d = decide_duplicates({{"/a/mmdebias-x.so", false, "x"}, {"/b/mmdebias-x.so", false, "x"}});
  REQUIRE(d.size() == 2);
  CHECK(d[0].verdict == DuplicateVerdict::Conflict);
  CHECK(d[1].verdict == DuplicateVerdict::Conflict);
  CHECK(d[0].reason == d[1].reason);
  CHECK(d[0].reason ==
        "plugin 'x' is provided by 2 files on the search path: /a/mmdebias-x.so and /b/mmdebias-x.so; name the one to use "
        "as a file with --plugin-path PATH/mmdebias-x.so, or remove the other from the search path");
}

TEST_CASE("three files, different file names: all named, FILE as the example, the others removed") {
  auto d = decide_duplicates({{"/a/mmdebias-p.so", false, "x"}, {"/b/mmdebias-q.so", false, "x"}, {"/c/mmdebias-x.so", false, "x"}});
  CHECK(has(d[2].reason, "provided by 3 files on the search path: /a/mmdebias-p.so, /b/mmdebias-q.so and /c/mmdebias-x.so"));
  CHECK(has(d[2].reason, "--plugin-path FILE, or remove the others from the search path"));
}

TEST_CASE("one file given directly is chosen; the others are skipped, naming it") {
  auto d = decide_duplicates({{"/a/mmdebias-x.so", false, "x"}, {"/b/mmdebias-x2.so", true, "x"}, {"/c/mmdebias-x.so", false, "x"}});
  CHECK(d[0].verdict == DuplicateVerdict::Skip);
  CHECK(d[1].verdict == DuplicateVerdict::Use);
  CHECK(d[2].verdict == DuplicateVerdict::Skip);
  CHECK(d[0].reason == "skipped: plugin 'x' is taken from /b/mmdebias-x2.so given with --plugin-path");
}

TEST_CASE("two files given directly for one plugin stay an error") {
  auto d = decide_duplicates({{"/a/mmdebias-x.so", true, "x"}, {"/b/mmdebias-x.so", true, "x"}, {"/c/mmdebias-x.so", false, "x"}});
  for (const auto& one : d) CHECK(one.verdict == DuplicateVerdict::Conflict);
  CHECK(has(d[0].reason, "/a/mmdebias-x.so and /b/mmdebias-x.so are all given with --plugin-path: give only one of them"));
}

TEST_CASE("before opening: a file is skipped only when exactly one file given directly has its file name") {
  const std::vector<ProvidingFile> files = {
      {"/a/mmdebias-x.so", false, ""}, {"/b/mmdebias-x.so", true, ""}, {"/c/mmdebias-y.so", false, ""}, {"/d/other.so", false, ""}};
  CHECK(skip_before_opening(files, 0) ==
        "skipped: plugin 'x' is taken from /b/mmdebias-x.so given with --plugin-path (a file of the same name; this one was not opened)");
  CHECK(skip_before_opening(files, 1).empty());  // the chosen one
  CHECK(skip_before_opening(files, 2).empty());  // another name: opened to learn its plugin
  CHECK(skip_before_opening(files, 3).empty());  // not a plugin file name
  std::vector<ProvidingFile> two_direct = files;
  two_direct.push_back({"/e/mmdebias-x.so", true, ""});
  CHECK(skip_before_opening(two_direct, 0).empty());  // both opened: the error names them all
}
