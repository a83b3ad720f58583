#include <cstdlib>
#include <iostream>

#include "commands.hpp"

namespace po = boost::program_options;

namespace mmdebias::host {

void add_common_options(po::options_description& options) {
  options.add_options()
      ("help,h", "show this help")
      ("plugin-path", po::value<std::vector<std::string>>()->composing(),
       "directory or plugin file searched first (repeatable); then MMDEBIAS_PLUGIN_PATH, the manifest's plugins.paths, the shipped plugins");
}

void add_trust_option(po::options_description& options) {
  options.add_options()
      ("trusted-plugins-only", "load no plugin from the manifest's plugins.paths (a manifest or run directory from someone "
                               "else cannot make this process open a library): only --plugin-path, MMDEBIAS_PLUGIN_PATH "
                               "and the shipped plugins are searched");
}

void add_positional_args(po::options_description& options, po::positional_options_description& positional, const char* doc) {
  options.add_options()("args", po::value<std::vector<std::string>>()->composing(), doc);
  positional.add("args", -1);
}

std::vector<std::string> positional_args(const po::variables_map& vm) {
  return vm.count("args") ? vm["args"].as<std::vector<std::string>>() : std::vector<std::string>{};
}

bool parse(const Args& args, const po::options_description& options, const po::positional_options_description& positional,
           po::variables_map& vm, const std::string& usage) {
  po::store(po::command_line_parser(args).options(options).positional(positional).run(), vm);
  if (vm.count("help")) {
    std::cout << usage << "\n\n" << options << "\n";
    return false;
  }
  po::notify(vm);
  return true;
}

core::SearchPath search_path(const po::variables_map& vm, const std::vector<std::filesystem::path>& manifest_paths) {
  core::SearchPath sp;
  if (vm.count("plugin-path"))
    for (const auto& p : vm["plugin-path"].as<std::vector<std::string>>()) sp.cli.emplace_back(p);
  if (const char* env = std::getenv("MMDEBIAS_PLUGIN_PATH")) sp.env = core::SearchPath::split(env);
  sp.manifest = manifest_paths;
  sp.builtin = {core::SearchPath::builtin_dir()};
  sp.trusted_only = vm.count("trusted-plugins-only") != 0;
  return sp;
}

}  // namespace mmdebias::host
