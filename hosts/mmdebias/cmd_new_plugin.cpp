// `mmdebias new-plugin NAME [DIR]`: writes a plugin skeleton that builds as it is against the installed
// SDK (find_package(mmdebias_sdk)): a CMakeLists with tests, one intervention, and a manifest using it.
#include <cctype>
#include <fstream>
#include <iostream>
#include <regex>

#include <boost/dll/runtime_symbol_info.hpp>

#include "commands.hpp"
#include "mmdebias/core/errors.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace mmdebias::host {
namespace {

// Templates; @NAME@ becomes the plugin name. Kept here (not as files) so an installed host needs nothing else.
const char* kCMakeLists = R"(# The @NAME@ plugin for mmdebias, built against the installed SDK:
#   cmake -S . -B build -DCMAKE_PREFIX_PATH=<mmdebias prefix> && cmake --build build && (cd build && ctest)
#   cmake --install build --prefix <mmdebias prefix>    # the installed host then finds it with no path
cmake_minimum_required(VERSION 3.18)
project(mmdebias_@NAME@ LANGUAGES CXX)

find_package(mmdebias_sdk 1.0 REQUIRED)
mmdebias_add_plugin(@NAME@ SOURCES @NAME@.cpp)

enable_testing()
set(_plugin $<TARGET_FILE:mmdebias_plugin_@NAME@>)
# Loads in a child process of its own (a crash while loading is reported, not fatal).
add_test(NAME @NAME@.verify COMMAND ${MMDEBIAS_EXECUTABLE} plugins --verify --plugin-path ${_plugin})
# The manifest validates and trains (one short epoch) into a fresh run directory.
add_test(NAME @NAME@.clean COMMAND ${CMAKE_COMMAND} -E rm -rf ${CMAKE_CURRENT_BINARY_DIR}/run)
set_tests_properties(@NAME@.clean PROPERTIES FIXTURES_SETUP @NAME@_clean)
add_test(NAME @NAME@.run COMMAND ${MMDEBIAS_EXECUTABLE} run ${CMAKE_CURRENT_SOURCE_DIR}/@NAME@.yaml
  --plugin-path ${_plugin} --out ${CMAKE_CURRENT_BINARY_DIR}/run train.epochs=1)
set_tests_properties(@NAME@.run PROPERTIES FIXTURES_REQUIRED @NAME@_clean)
)";

const char* kSource = R"(// The @NAME@ plugin: one intervention, @NAME@.logit_penalty, that adds weight * mean(logits^2) to the
// loss (a confidence penalty). Replace it with your method; docs/plugin-guide.md lists every hook.
#include <ATen/ATen.h>

#include "mmdebias/sdk/sdk.hpp"

namespace {

using namespace mmdebias::sdk;

// The component's options, each declared once: name, field, default, doc, range. schema_of<Config>() gives the
// host the schema (validation, `mmdebias describe`); bind<Config>() gives the factory the filled struct.
struct Config {
  double weight = 0;

  static void declare(OptionBinder<Config>& b) {
    b.option("weight", &Config::weight, 0.01, "multiplier of the penalty").at_least(0);
  }
};

class LogitPenalty : public Intervention {
 public:
  explicit LogitPenalty(double weight) : weight_(weight) {}
  // The engine calls only the hooks declared here.
  uint32_t hooks() const override { return kLoss; }
  void loss(const ForwardRecord& record, const Batch&, const Estimates&, Model&, LossTerms& terms, Context& ctx) override {
    at::Tensor penalty = record.logits.pow(2).mean();
    terms.add("logit_penalty", penalty, weight_);  // logged unweighted as <instance>/logit_penalty
    ctx.metric("mean_sq_logit", penalty.item<double>());
  }

 private:
  double weight_;
};

// Declares the components; runs only after the host accepted the plugin's build fingerprint.
void register_components(Registrar& r) {
  ComponentDecl decl{"logit_penalty", "adds weight * mean(logits^2) to the loss", schema_of<Config>(), {}, {}};
  r.add_intervention(std::move(decl), [](const BuildArgs& a) { return std::make_shared<LogitPenalty>(bind<Config>(a.options).weight); });
}

}  // namespace

MMDEBIAS_PLUGIN("@NAME@", "0.1.0", "@NAME@: a plugin made from the mmdebias template", register_components)
)";

const char* kManifest = R"(# Trains a small two-modality Gaussian pipeline with @NAME@.logit_penalty:
#   mmdebias run @NAME@.yaml --plugin-path build/mmdebias-@NAME@.so
mmdebias: 1

data:
  type: std.gaussian
  modalities: 2
  dim: 8
  classes: 4
  noise: [1.0, 2.0]
  train_size: 512
  test_size: 256

model:
  encoders:
    m0: {type: std.mlp, hidden: [32], out_dim: 16}
    m1: {type: std.mlp, hidden: [32], out_dim: 16}
  fusion: {type: std.concat}

interventions:
  - {type: @NAME@.logit_penalty, weight: 0.01}

train:
  epochs: 3
  batch_size: 64
  lr: 0.003

run:
  name: @NAME@
  seed: 0
)";

void write_file(const fs::path& path, const std::string& text, const std::string& name) {
  std::string out = std::regex_replace(text, std::regex("@NAME@"), name);
  std::ofstream f(path);
  f << out;
  if (!f) throw core::RunError("cannot write " + path.string());
}

}  // namespace

int cmd_new_plugin(const Args& args) {
  po::options_description options("Options");
  options.add_options()("help,h", "show this help");
  po::positional_options_description positional;
  add_positional_args(options, positional, "NAME, then optionally DIR");
  po::variables_map vm;
  if (!parse(args, options, positional, vm,
             "Usage: mmdebias new-plugin NAME [DIR]\n"
             "Writes a plugin skeleton into DIR (default ./NAME): CMakeLists.txt (find_package(mmdebias_sdk),\n"
             "mmdebias_add_plugin, tests), NAME.cpp (one intervention, NAME.logit_penalty) and NAME.yaml.\n"
             "Build it with: cmake -S DIR -B DIR/build -DCMAKE_PREFIX_PATH=<mmdebias prefix> && cmake --build DIR/build"))
    return 0;
  std::vector<std::string> words = positional_args(vm);
  if (words.empty() || words.size() > 2) throw core::InputError("mmdebias new-plugin: expected NAME [DIR] (see mmdebias new-plugin --help)");
  const std::string& name = words[0];
  // The name prefixes every component ("name.component") and the file name: an identifier, lower case by convention.
  if (!std::regex_match(name, std::regex("[a-z_][a-z0-9_]*")))
    throw core::InputError("mmdebias new-plugin: plugin name '" + name + "' must be a lower-case identifier (a-z, 0-9, _), e.g. 'mymethod'");
  fs::path dir = words.size() > 1 ? fs::path(words[1]) : fs::path(name);
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_empty(dir, ec))
    throw core::InputError("mmdebias new-plugin: " + dir.string() + " exists and is not empty; choose another DIR");
  fs::create_directories(dir, ec);
  if (ec) throw core::RunError("cannot create " + dir.string() + ": " + ec.message());
  write_file(dir / "CMakeLists.txt", kCMakeLists, name);
  write_file(dir / (name + ".cpp"), kSource, name);
  write_file(dir / (name + ".yaml"), kManifest, name);
  // The prefix of this host, for the build line: <prefix>/bin/mmdebias.
  fs::path prefix = boost::dll::program_location().parent_path().parent_path();
  std::cout << "wrote " << (dir / "CMakeLists.txt").string() << ", " << (dir / (name + ".cpp")).string() << ", "
            << (dir / (name + ".yaml")).string() << "\n"
            << "build and test it:\n"
            << "  cmake -S " << dir.string() << " -B " << (dir / "build").string() << " -DCMAKE_PREFIX_PATH=" << prefix.string() << "\n"
            << "  cmake --build " << (dir / "build").string() << " && (cd " << (dir / "build").string() << " && ctest)\n";
  return 0;
}

}  // namespace mmdebias::host
