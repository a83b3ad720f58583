#include <boost/dll/runtime_symbol_info.hpp>

#include <algorithm>
#include <iostream>

#include "commands.hpp"
#include "mmdebias/core/describe.hpp"
#include "mmdebias/core/errors.hpp"
#include "mmdebias/core/plugin_verify.hpp"

namespace po = boost::program_options;

namespace mmdebias::host {
namespace {

// The hidden flag of `plugins --verify`'s children: `mmdebias plugins --verify-child FILE` loads FILE alone
// and prints its plugins_json. Not in --help: it is the parent's protocol, not a user's command.
constexpr const char* kVerifyChild = "--verify-child";

// `plugins --verify`: the search path's files, or only those named as arguments, each in a child of its own.
int verify(const po::variables_map& vm, const std::vector<std::string>& files) {
  double timeout = vm["timeout"].as<double>();
  if (!(timeout > 0)) throw core::InputError("mmdebias plugins: --timeout must be a positive number of seconds");
  if (!files.empty() && vm.count("plugin-path"))
    throw core::InputError("mmdebias plugins --verify: give plugin files or --plugin-path, not both (files are verified alone)");
  std::vector<std::string> child = {boost::dll::program_location().string(), "plugins", kVerifyChild};
  auto results = core::verify_plugins(files.empty() ? core::plugin_files(search_path(vm)) : core::given_plugin_files(files),
                                      child, std::chrono::milliseconds(static_cast<int64_t>(timeout * 1000)));
  if (vm.count("json")) std::cout << core::verify_json(results).dump(2) << "\n";
  else std::cout << core::verify_text(results);
  // One line per failure on stderr, as plain `plugins` does for refusals (a refusal already names its file; the
  // error of two files providing one plugin is on both, and said once).
  std::vector<std::string> said;
  for (const auto& r : results) {
    if (r.status == core::VerifyStatus::Loaded || r.status == core::VerifyStatus::Skipped) continue;
    std::string line = r.status == core::VerifyStatus::Refused ? r.reason
                                                               : r.path.string() + ": " + core::verify_status_name(r.status) + ": " + r.reason;
    if (std::find(said.begin(), said.end(), line) == said.end()) said.push_back(line);
  }
  for (const auto& line : said) std::cerr << line << "\n";
  return core::any_failed(results) ? 2 : 0;
}

}  // namespace

int cmd_plugins(const Args& args) {
  if (args.size() == 2 && args[0] == kVerifyChild) {
    core::verify_child(args[1], std::cout);
    return 0;
  }
  po::options_description options("Options");
  add_common_options(options);
  options.add_options()("json", "print JSON instead of text")
      ("verify", "load each plugin file in a child process of its own: a plugin that crashes or hangs while "
                 "loading is reported (crashed, with the signal; timed out), not fatal")
      ("timeout", po::value<double>()->default_value(30.0), "with --verify: seconds each child may take to load its plugin");
  po::positional_options_description positional;
  add_positional_args(options, positional, "with --verify: plugin files (mmdebias-<name>.so) to verify instead of the search path");
  po::variables_map vm;
  if (!parse(args, options, positional, vm,
             "Usage: mmdebias plugins [--json] [--verify [--timeout S] [FILE...]] [--plugin-path DIR|FILE]...\n"
             "Lists every plugin file on the search path: name, version, SDK ABI, build fingerprint, status (loaded,\n"
             "skipped, refused), the reason, and its components. Two files providing one plugin name are an error\n"
             "unless one is given as a file with --plugin-path: that one is used, the others are skipped. Exits 2\n"
             "when any plugin was refused (with --verify: refused, crashed, timed out or failed).\n"
             "--verify FILE... verifies only those files, not the search path."))
    return 0;
  const std::vector<std::string> files = positional_args(vm);
  if (vm.count("verify")) return verify(vm, files);
  if (!files.empty())
    throw core::InputError("mmdebias plugins: plugin files as arguments (" + files[0] + ") go with --verify; to list with a "
                           "file, give it with --plugin-path");
  core::PluginHost host;
  host.load_for_listing(search_path(vm));
  if (vm.count("json")) std::cout << core::plugins_json(host).dump(2) << "\n";
  else std::cout << core::plugins_text(host);
  // A refused plugin (or two files of one plugin) is bad input (exit 2): the listing doubles as a check of the search path.
  auto refusals = host.refusals();
  for (const auto& r : refusals) std::cerr << r << "\n";
  return refusals.empty() ? 0 : 2;
}

}  // namespace mmdebias::host
