#include <boost/dll/runtime_symbol_info.hpp>

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
  po::variables_map vm;
  if (!parse(args, options, {}, vm,
             "Usage: mmdebias plugins [--json] [--verify [--timeout S]] [--plugin-path DIR]...\n"
             "Lists every plugin file on the search path: name, version, SDK ABI, build fingerprint,\n"
             "status, the reason for any refusal, and its components. Exits 2 when any plugin was refused\n"
             "(with --verify: refused, crashed, timed out or failed)."))
    return 0;
  if (vm.count("verify")) {
    double timeout = vm["timeout"].as<double>();
    if (!(timeout > 0)) throw core::InputError("mmdebias plugins: --timeout must be a positive number of seconds");
    std::vector<std::string> child = {boost::dll::program_location().string(), "plugins", kVerifyChild};
    auto results = core::verify_plugins(core::plugin_files(search_path(vm)), child,
                                        std::chrono::milliseconds(static_cast<int64_t>(timeout * 1000)));
    if (vm.count("json")) std::cout << core::verify_json(results).dump(2) << "\n";
    else std::cout << core::verify_text(results);
    // One line per failure on stderr, as plain `plugins` does for refusals (a refusal already names its file).
    for (const auto& r : results) {
      if (r.status == core::VerifyStatus::Loaded) continue;
      if (r.status == core::VerifyStatus::Refused) std::cerr << r.reason << "\n";
      else std::cerr << r.path.string() << ": " << core::verify_status_name(r.status) << ": " << r.reason << "\n";
    }
    return core::any_failed(results) ? 2 : 0;
  }
  core::PluginHost host;
  host.load(search_path(vm));
  if (vm.count("json")) std::cout << core::plugins_json(host).dump(2) << "\n";
  else std::cout << core::plugins_text(host);
  // A refused plugin is bad input (exit 2): the listing doubles as a check of the search path.
  auto refusals = host.refusals();
  for (const auto& r : refusals) std::cerr << r << "\n";
  return refusals.empty() ? 0 : 2;
}

}  // namespace mmdebias::host
