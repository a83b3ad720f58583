#include <iostream>

#include "commands.hpp"
#include "mmdebias/core/describe.hpp"

namespace po = boost::program_options;

namespace mmdebias::host {

int cmd_describe(const Args& args) {
  po::options_description options("Options");
  add_common_options(options);
  options.add_options()("json", "print JSON instead of text")(
      "component", po::value<std::string>()->required(), "component type, e.g. std.concat");
  po::positional_options_description positional;
  positional.add("component", 1);
  po::variables_map vm;
  if (!parse(args, options, positional, vm,
             "Usage: mmdebias describe COMPONENT [--json]\n"
             "Shows a component's kind, options (type, default, range, doc), and the capabilities it needs and provides."))
    return 0;
  core::PluginHost host;
  host.load(search_path(vm));
  const std::string component = vm["component"].as<std::string>();
  if (vm.count("json")) std::cout << core::describe_json(host, component).dump(2) << "\n";
  else std::cout << core::describe_text(host, component);
  return 0;
}

}  // namespace mmdebias::host
