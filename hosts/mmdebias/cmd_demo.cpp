// `mmdebias demo`: the embedded default manifest, run.
#include <iostream>

#include "commands.hpp"
#include "embedded_manifests.hpp"
#include "mmdebias/core/run.hpp"

namespace po = boost::program_options;

namespace mmdebias::host {

int cmd_demo(const Args& args) {
  po::options_description options("Options");
  add_common_options(options);
  options.add_options()("out", po::value<std::string>(), "run directory (default: runs/demo-<timestamp>)")(
      "force", "start even where --out holds a run or other files (as `mmdebias run --force`: moved aside, never deleted)")(
      "print-manifest", "print the embedded manifest and exit");
  po::positional_options_description positional;
  add_positional_args(options, positional, "key.path=value overrides");
  po::variables_map vm;
  if (!parse(args, options, positional, vm,
             "Usage: mmdebias demo [--out DIR [--force]] [key.path=value ...]\n"
             "Runs the embedded default manifest: two Gaussian modalities of unequal noise, MLP encoders, a concat\n"
             "fusion, held-out classes as OOD; ends with a summary table. Under a minute on 2 cores."))
    return 0;
  if (vm.count("print-manifest")) {
    std::cout << kDefaultManifest;
    return 0;
  }
  core::RunRequest request;
  request.manifest_text = kDefaultManifest;
  request.display_name = "<demo: examples/default.yaml>";
  request.overrides = core::parse_overrides(positional_args(vm));
  if (vm.count("out")) request.out = vm["out"].as<std::string>();
  request.force = vm.count("force") > 0;
  return run_and_print(std::move(request), vm);
}

}  // namespace mmdebias::host
