// The plugin boundary: handshake refusals, duplicates, sha256 pins, object lifetime, exceptions from hooks.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <ATen/ATen.h>

#include "common/sha256.hpp"
#include "mmdebias/core/errors.hpp"
#include "plugin/guard.hpp"
#include "manifest/option_values.hpp"
#include "mmdebias/core/plugin_host.hpp"
#include "plugin/registry.hpp"
#include "support/null_context.hpp"

// After LibTorch: glog (pulled in by LibTorch) defines its own CHECK otherwise.
#include <doctest/doctest.h>

namespace fs = std::filesystem;
using namespace mmdebias;

namespace {

fs::path fixture(const std::string& name) { return fs::path(MMDEBIAS_FIXTURE_DIR) / name; }

fs::path fixture_file(const std::string& name) { return fixture(name) / ("mmdebias-" + name + ".so"); }

// A marker file the fixtures' registration appends to; tells whether registration code ran.
struct Marker {
  fs::path path = fs::temp_directory_path() / ("mmdebias-marker-" + std::to_string(::getpid()));
  Marker() { fs::remove(path); setenv("MMDEBIAS_FIXTURE_MARKER", path.c_str(), 1); }
  ~Marker() { fs::remove(path); unsetenv("MMDEBIAS_FIXTURE_MARKER"); }
  void clear() const { fs::remove(path); }
  std::string text() const {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
};

core::PluginHost load_dirs(std::vector<fs::path> dirs, std::map<std::string, std::string> pins = {}) {
  core::PluginHost host;
  core::SearchPath sp;
  sp.cli = std::move(dirs);
  host.load(sp, pins);
  return host;
}

std::string torch_version(int minor_delta) {
  return std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR + minor_delta) + "." +
         std::to_string(TORCH_VERSION_PATCH);
}

sdk::BuildArgs encoder_args() {
  sdk::BuildArgs args;
  args.name = "encoders.a";
  args.modality = "a";
  args.model.inputs = {{"a", sdk::InputKind::Dense, {3}, 0}};
  return args;
}

// The thrower never touches its model or context; these only satisfy the signature.
struct UnusedModel : sdk::Model {
  const std::vector<std::string>& modalities() const override { static std::vector<std::string> none; return none; }
  sdk::Encoder& encoder(const std::string&) override { throw std::logic_error("unused"); }
  sdk::Fusion& fusion() override { throw std::logic_error("unused"); }
  sdk::ForwardRecord forward(const sdk::Batch&, const sdk::AttentionSites&) override { throw std::logic_error("unused"); }
};
using UnusedContext = mmdebias::test::NullContext;

}  // namespace

TEST_CASE("a well-formed plugin loads, registers its components, and runs its registration once") {
  Marker marker;
  auto host = load_dirs({fixture("fixture")});
  REQUIRE(host.statuses().size() == 1);
  const auto& s = host.statuses()[0];
  CHECK_MESSAGE(s.loaded, s.reason);
  CHECK(s.info.name == "fixture");
  CHECK(host.registry().find("fixture.thrower") != nullptr);
  CHECK(host.registry().find("fixture.linear") != nullptr);
  CHECK(marker.text() == "fixture registered\n");
}

TEST_CASE("the refusal matrix: each altered handshake field is refused in one line naming file and both values") {
  struct Case {
    std::string fixture;
    std::vector<std::string> expected;
  };
  const std::string host_cxx = std::to_string(MMDEBIAS_CXX11_ABI), other_cxx = std::to_string(!MMDEBIAS_CXX11_ABI);
  const std::string minor = std::to_string(MMDEBIAS_SDK_ABI_MINOR), next_minor = std::to_string(MMDEBIAS_SDK_ABI_MINOR + 1);
  std::vector<Case> cases = {
      {"fixture_abi_major", {"built against SDK ABI 2." + minor, "this host has SDK ABI 1." + minor, "rebuild the plugin against SDK 1.x"}},
      {"fixture_abi_minor", {"built against SDK ABI 1." + next_minor, "newer than this host's SDK ABI 1." + minor}},
      {"fixture_torch", {"built with LibTorch " + torch_version(1), "this host has LibTorch " + torch_version(0)}},
      {"fixture_cxx11", {"_GLIBCXX_USE_CXX11_ABI=" + other_cxx, "this host has _GLIBCXX_USE_CXX11_ABI=" + host_cxx}},
      {"fixture_garbage", {"no name (null pointer)"}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.fixture);
    Marker marker;
    auto host = load_dirs({fixture(c.fixture)});
    REQUIRE(host.statuses().size() == 1);
    const auto& s = host.statuses()[0];
    CHECK_FALSE(s.loaded);
    CHECK(s.reason.find('\n') == std::string::npos);
    CHECK(s.reason.find(fixture_file(c.fixture).string()) != std::string::npos);
    for (const auto& e : c.expected) CHECK_MESSAGE(s.reason.find(e) != std::string::npos, s.reason);
    CHECK(host.registry().entries().empty());
    CHECK_MESSAGE(!fs::exists(marker.path), "registration code ran for a refused plugin");
  }
}

TEST_CASE("two files providing the same plugin: an error naming both; listed, neither is registered") {
  const std::string a = fixture_file("twin_a").string(), b = fixture_file("twin_b").string();  // both say 'twin'
  core::SearchPath sp;
  sp.cli = {fixture("twin_a"), fixture("twin_b")};
  core::PluginHost listing;
  listing.load_for_listing(sp);
  REQUIRE(listing.statuses().size() == 2);
  for (const auto& s : listing.statuses()) {
    CHECK(s.opened);
    CHECK_FALSE(s.loaded);
    CHECK_FALSE(s.skipped);
    CHECK(s.reason.find("plugin 'twin' is provided by 2 files on the search path: " + a + " and " + b) != std::string::npos);
    CHECK(s.reason.find("name the one to use as a file with --plugin-path FILE") != std::string::npos);
  }
  CHECK(listing.refusals().size() == 1);  // one error, though it is on both files
  CHECK(listing.registry().entries().empty());
  CHECK_THROWS_WITH_AS(load_dirs({fixture("twin_a"), fixture("twin_b")}), doctest::Contains("plugin 'twin' is provided by 2 files"),
                       core::InputErrors);
  CHECK_THROWS_WITH_AS(load_dirs({fixture_file("twin_a"), fixture_file("twin_b")}),
                       doctest::Contains("are all given with --plugin-path: give only one of them"), core::InputErrors);
}

TEST_CASE("a file given directly is chosen over other files of its plugin, which are skipped, not refused") {
  Marker marker;
  // Another file name: opened to learn its plugin name, then skipped before its registration runs.
  auto host = load_dirs({fixture("twin_a"), fixture_file("twin_b")});
  REQUIRE(host.statuses().size() == 2);
  const auto& skipped = host.statuses()[0];
  CHECK(skipped.skipped);
  CHECK(skipped.opened);
  CHECK_FALSE(skipped.loaded);
  CHECK(skipped.reason == "skipped: plugin 'twin' is taken from " + fixture_file("twin_b").string() + " given with --plugin-path");
  CHECK(host.statuses()[1].loaded);
  CHECK(host.refusals().empty());
  CHECK(host.skips() == std::vector<std::string>{fixture_file("twin_a").string() + " " + skipped.reason});
  CHECK(host.plugin("twin")->path() == fixture_file("twin_b"));
  CHECK(marker.text() == "twin registered\n");

  // The same file name: skipped before it is opened. A file given directly and reached through its directory first
  // counts as given directly.
  const fs::path dir = fs::temp_directory_path() / ("mmdebias-dups-" + std::to_string(::getpid()));
  fs::create_directories(dir / "a");
  fs::create_directories(dir / "b");
  fs::copy_file(fixture_file("fixture"), dir / "a" / "mmdebias-fixture.so", fs::copy_options::overwrite_existing);
  fs::copy_file(fixture_file("fixture"), dir / "b" / "mmdebias-fixture.so", fs::copy_options::overwrite_existing);
  core::SearchPath sp;
  sp.cli = {dir / "b", dir / "a", dir / "b" / "mmdebias-fixture.so"};
  const auto files = core::plugin_files(sp);
  REQUIRE(files.size() == 2);
  CHECK(files[0].direct);
  CHECK_FALSE(files[1].direct);
  core::PluginHost by_name;
  by_name.load(sp);
  REQUIRE(by_name.statuses().size() == 2);
  CHECK(by_name.statuses()[0].loaded);
  CHECK(by_name.statuses()[1].skipped);
  CHECK_FALSE(by_name.statuses()[1].opened);
  CHECK(by_name.statuses()[1].reason.find("(a file of the same name; this one was not opened)") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("the registry refuses a duplicate component name, naming both files, and registers nothing of the second") {
  core::Registry registry;
  auto a = core::PluginLibrary::open(fixture_file("twin_a"));
  auto b = core::PluginLibrary::open(fixture_file("twin_b"));
  registry.register_plugin(a);
  size_t before = registry.entries().size();
  try {
    registry.register_plugin(b);
    FAIL("a duplicate registration was accepted");
  } catch (const core::InputError& e) {
    std::string m = e.what();
    CHECK(m.find("twin.thrower is registered twice") != std::string::npos);
    CHECK(m.find(a->path().string()) != std::string::npos);
    CHECK(m.find(b->path().string()) != std::string::npos);
  }
  CHECK(registry.entries().size() == before);
  for (const auto* e : registry.entries()) CHECK(e->plugin == a);
}

TEST_CASE("unknown component names list what is registered and the nearest match") {
  auto host = load_dirs({fixture("fixture")});
  try {
    host.registry().get("fixture.throwr", sdk::ComponentKind::Intervention);
    FAIL("no error");
  } catch (const core::InputError& e) {
    std::string m = e.what();
    CHECK(m.find("unknown intervention 'fixture.throwr'") != std::string::npos);
    CHECK(m.find("did you mean 'fixture.thrower'?") != std::string::npos);
    CHECK(m.find("(registered: ") != std::string::npos);
    CHECK(m.find("fixture.thrower") != m.rfind("fixture.thrower"));  // suggested, and listed
  }
  CHECK_THROWS_WITH_AS(host.registry().get("fixture.linear", sdk::ComponentKind::Fusion),
                       "'fixture.linear' is a encoder, not a fusion", core::InputError);
}

TEST_CASE("sha256 pins: keyed by file, checked before opening, either case; a mismatch opens nothing") {
  Marker marker;
  const std::string digest = core::sha256_file(fixture_file("fixture"));
  std::string upper = digest;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto ok = load_dirs({fixture("fixture")}, {{"fixture", upper}});
  CHECK(ok.statuses()[0].loaded);
  CHECK(ok.statuses()[0].opened);
  CHECK(ok.statuses()[0].sha256 == digest);
  CHECK(ok.plugin("fixture")->sha256() == digest);
  // twin_a's file is mmdebias-twin_a.so: its pin is keyed by the file, whatever name the library reports.
  auto twin = load_dirs({fixture("twin_a")}, {{"twin_a", core::sha256_file(fixture_file("twin_a"))}});
  CHECK(twin.plugin("twin"));
  marker.clear();
  try {
    load_dirs({fixture("fixture"), fixture("twin_a")}, {{"fixture", std::string(64, '0')}});
    FAIL("a mismatched pin was accepted");
  } catch (const core::InputErrors& e) {
    REQUIRE(e.messages().size() == 2);
    CHECK(e.messages()[0] == "refused " + fixture_file("fixture").string() + ": its sha256 is " + digest +
                                 ", plugins.sha256.fixture pins " + std::string(64, '0') + " (it was not opened)");
  }
  CHECK(marker.text().empty());  // neither file was opened, the unpinned one included
  CHECK_THROWS_WITH_AS(load_dirs({fixture("fixture")}, {{"fixture", "abc"}}),
                       doctest::Contains("plugins.sha256.fixture: expected a SHA-256 digest (64 hex digits), got 'abc'"),
                       core::InputErrors);
  auto missing = load_dirs({fixture("fixture")}, {{"nowhere", std::string(64, '0')}});
  REQUIRE(missing.statuses().size() == 2);
  CHECK(missing.statuses()[1].reason.find("plugins.sha256.nowhere pins a file mmdebias-nowhere.so") != std::string::npos);
}

TEST_CASE("a file given directly is opened only when named mmdebias-<name>.so") {
  Marker marker;
  const fs::path copy = fs::temp_directory_path() / ("notaplugin-" + std::to_string(::getpid()) + ".so");
  fs::copy_file(fixture_file("fixture"), copy, fs::copy_options::overwrite_existing);
  const std::string refusal = "refused " + copy.string() + ": plugin files are named mmdebias-<name>.so";
  CHECK_THROWS_WITH_AS(load_dirs({copy}), doctest::Contains(refusal.c_str()), core::InputErrors);
  CHECK(marker.text().empty());
  fs::remove(copy);
}

TEST_CASE("--trusted-plugins-only: the manifest's paths are not searched, and say so") {
  core::PluginHost host;
  core::SearchPath sp;
  sp.manifest = {fixture("fixture")};
  sp.trusted_only = true;
  host.load(sp);
  REQUIRE(host.statuses().size() == 1);
  CHECK_FALSE(host.statuses()[0].opened);
  CHECK(host.statuses()[0].reason.find("not searched: " + fixture("fixture").string()) != std::string::npos);
  CHECK_FALSE(host.plugin("fixture"));
}

TEST_CASE("an object made by a plugin keeps working after every registry and loader handle is gone") {
  std::shared_ptr<sdk::Encoder> encoder;
  {
    auto host = load_dirs({fixture("fixture")});
    sdk::BuildArgs args = encoder_args();
    args.options = core::complete_options(host.registry().get("fixture.linear").decl.schema);
    encoder = host.registry().make_encoder("fixture.linear", args);
  }
  sdk::AttentionSites sites;
  at::Tensor y = encoder->encode(at::ones({2, 3}), sites);
  CHECK(y.sizes() == at::IntArrayRef({2, 4}));
  y.sum().backward();
  for (const auto& p : encoder->parameters()) CHECK(p.grad().defined());
}

TEST_CASE("an exception from a hook becomes an error naming plugin, component and hook; the process survives") {
  auto host = load_dirs({fixture("fixture")});
  const auto& entry = host.registry().get("fixture.thrower");
  for (std::string what : {"std", "c10", "other"}) {
    CAPTURE(what);
    sdk::BuildArgs args;
    args.name = "interventions.boom";
    args.options = core::complete_options(entry.decl.schema, {{"what", what}});
    auto thrower = host.registry().make_intervention("fixture.thrower", args);
    core::ComponentLabel label{"fixture", "interventions.boom (fixture.thrower)"};
    sdk::ForwardRecord record;
    sdk::Batch batch;
    sdk::Estimates estimates;
    sdk::LossTerms terms;
    UnusedModel model;
    UnusedContext context;
    try {
      core::guarded(label, "loss", [&] {
        thrower->loss(record, batch, estimates, model, terms, context);
      });
      FAIL("no exception");
    } catch (const core::ComponentError& e) {
      std::string m = e.what();
      CHECK(m.find("plugin 'fixture'") != std::string::npos);
      CHECK(m.find("interventions.boom (fixture.thrower)") != std::string::npos);
      CHECK(m.find("hook loss") != std::string::npos);
      const char* original = what == "std" ? "deliberate failure" : what == "c10" ? "deliberate torch check" : "unknown exception";
      CHECK_MESSAGE(m.find(original) != std::string::npos, m);
    }
  }
}

TEST_CASE("options are completed from the schema; unknown names and out-of-range values are refused") {
  auto host = load_dirs({fixture("fixture")});
  const auto& schema = host.registry().get("fixture.linear").decl.schema;
  CHECK(core::complete_options(schema).integer("dim") == 4);
  CHECK(core::complete_options(schema, {{"dim", int64_t{7}}}).integer("dim") == 7);
  CHECK_THROWS_WITH_AS(core::complete_options(schema, {{"dim", int64_t{0}}}), "option 'dim': value 0 is out of range >= 1", core::InputError);
  CHECK_THROWS_WITH_AS(core::complete_options(schema, {{"dimm", int64_t{2}}}), "unknown option 'dimm'; did you mean 'dim'?", core::InputError);
  CHECK_THROWS_WITH_AS(core::complete_options(schema, {{"dim", 2.5}}), "option 'dim': expected int", core::InputError);
}

TEST_CASE("the registry refuses a dataset declaring on_bad_sample, which the manifest reserves in datasets") {
  core::Registry registry;
  sdk::ComponentDecl decl;
  decl.name = "strict";
  decl.schema.add_string("on_bad_sample", "stop", "a dataset's own policy");
  CHECK_THROWS_WITH_AS(registry.add_dataset(decl, [](const sdk::BuildArgs&) { return std::shared_ptr<sdk::Dataset>(); }),
                       doctest::Contains("declares an option named 'on_bad_sample', which the manifest reserves in datasets"),
                       core::InputError);
  sdk::ComponentDecl scorer = decl;  // another kind may use the name
  CHECK_NOTHROW(registry.add_scorer(scorer, [](const sdk::BuildArgs&) { return std::shared_ptr<sdk::Scorer>(); }));
}
