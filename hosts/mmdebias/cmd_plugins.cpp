#include <iostream>

#include "commands.hpp"
#include "mmdebias/core/describe.hpp"

namespace po = boost::program_options;

namespace mmdebias::host {

int cmd_plugins(const Args& args) {
  po::options_description options("Options");
  add_common_options(options);
  options.add_options()("json", "print JSON instead of text");
  po::variables_map vm;
  if (!parse(args, options, {}, vm,
             "Usage: mmdebias plugins [--json] [--plugin-path DIR]...\n"
             "Lists every plugin file on the search path: name, version, SDK ABI, build fingerprint,\n"
             "status, the reason for any refusal, and its components. Exits 2 when any plugin was refused."))
    return 0;
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
