// `mmdebias new-plugin NAME [DIR]`: writes a plugin skeleton (skeleton/, embedded) that builds as it is against the
// installed SDK (find_package(mmdebias_sdk)): the component in a header, its doctest unit test, the plugin's entry,
// a manifest using it, and a CMakeLists that builds Release and wires ctest.
#include <cctype>
#include <fstream>
#include <iostream>
#include <regex>
#include <string>
#include <vector>

#include <boost/dll/runtime_symbol_info.hpp>

#include "commands.hpp"
#include "mmdebias/core/errors.hpp"
#include "skeleton_files.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace mmdebias::host {
namespace {

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
             "mmdebias_add_plugin, Release by default, ctest), NAME.hpp (one intervention, NAME.logit_penalty),\n"
             "NAME.cpp (the plugin's entry), test_NAME.cpp (its doctest unit tests) and NAME.yaml.\n"
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
  std::vector<std::string> written;
  for (const auto& [file, text] : kSkeletonFiles) {
    fs::path path = dir / std::regex_replace(std::string(file), std::regex("NAME"), name);
    write_file(path, text, name);
    written.push_back(path.string());
  }
  // The prefix of this host, for the build line: <prefix>/bin/mmdebias.
  fs::path prefix = boost::dll::program_location().parent_path().parent_path();
  std::cout << "wrote";
  for (size_t i = 0; i < written.size(); ++i) std::cout << (i ? ", " : " ") << written[i];
  std::cout << "\n"
            << "build and test it (its unit tests need doctest: apt install doctest-dev):\n"
            << "  cmake -S " << dir.string() << " -B " << (dir / "build").string() << " -DCMAKE_PREFIX_PATH=" << prefix.string() << "\n"
            << "  cmake --build " << (dir / "build").string() << " && (cd " << (dir / "build").string() << " && ctest)\n";
  return 0;
}

}  // namespace mmdebias::host
