#include <iostream>

#include "commands.hpp"
#include "mmdebias/core/errors.hpp"
#include "mmdebias/core/manifest.hpp"
#include "mmdebias/core/validate.hpp"

namespace po = boost::program_options;

namespace mmdebias::host {

int cmd_validate(const Args& args) {
  po::options_description options("Options");
  add_common_options(options);
  add_trust_option(options);
  options.add_options()
      ("cost", "instead of the resolved manifest, print what each component costs: parameters, parameter + optimizer "
               "memory, extra model passes and head rows per training step and evaluation batch (components built, not run)")
      ("json", "with --cost: the estimate as JSON");
  po::positional_options_description positional;
  add_positional_args(options, positional, "MANIFEST then key.path=value overrides");
  po::variables_map vm;
  if (!parse(args, options, positional, vm,
             "Usage: mmdebias validate [--cost [--json]] MANIFEST [key.path=value ...]\n"
             "Checks the whole manifest against the plugins before any compute and prints it resolved (defaults\n"
             "filled, plugin versions and sha256, hook order), or every error with file:line:column; exit 2 on errors.\n"
             "What the dataset warns of (e.g. labels that leave most classes empty) goes to stderr as 'warning: ...'."))
    return 0;
  std::vector<std::string> rest = positional_args(vm);
  if (rest.empty()) throw core::InputError("mmdebias validate: a MANIFEST is required (see mmdebias validate --help)");
  core::Manifest manifest = core::load_manifest(rest[0], core::parse_overrides({rest.begin() + 1, rest.end()}));
  core::PluginHost host;
  host.load(search_path(vm, core::manifest_plugin_paths(manifest)), core::manifest_sha256_pins(manifest));
  for (const auto& skip : host.skips()) std::cerr << "note: " << skip << "\n";
  try {
    if (vm.count("cost")) {
      std::cout << core::cost_report(manifest, host, vm.count("json") != 0);
    } else {
      const core::ValidateReport report = core::validate_report(manifest, host);
      std::cout << report.text;
      for (const auto& w : report.warnings) std::cerr << "warning: " << w << "\n";  // valid, but worth a look
    }
  } catch (const core::InputErrors& e) {
    std::vector<std::string> lines = e.messages();
    for (const auto& r : host.refusals()) lines.push_back("note: " + r);
    throw core::InputErrors(lines);
  }
  return 0;
}

}  // namespace mmdebias::host
