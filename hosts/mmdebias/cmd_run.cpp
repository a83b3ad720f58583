// `mmdebias run MANIFEST` and `mmdebias run --resume DIR`.
#include <iostream>

#include "commands.hpp"
#include "mmdebias/core/errors.hpp"
#include "mmdebias/core/run.hpp"

namespace po = boost::program_options;

namespace mmdebias::host {

int cmd_run(const Args& args) {
  po::options_description options("Options");
  add_common_options(options);
  add_trust_option(options);
  options.add_options()("out", po::value<std::string>(),
                        "run directory (default: <run.out>/<run.name>-<timestamp>); must be new, empty, or a run that stopped "
                        "before its first checkpoint")(
      "force",
      "start even where --out holds a run or other files: the files a run writes found there (manifest.yaml, "
      "checkpoints/, ...) are moved to DIR/replaced-<timestamp>/, nothing is deleted, other files stay")(
      "resume", po::value<std::string>(), "continue the run in this directory from its latest checkpoint")(
      "checkpoint", po::value<std::string>(),
      "with --resume: continue from this checkpoint (a file name in DIR/checkpoints) instead of the latest; later ones are "
      "moved to DIR/checkpoints/discarded");
  po::positional_options_description positional;
  add_positional_args(options, positional, "MANIFEST then key.path=value overrides");
  po::variables_map vm;
  if (!parse(args, options, positional, vm,
             "Usage: mmdebias run MANIFEST [--out DIR] [key.path=value ...]\n"
             "       mmdebias run --resume DIR [key.path=value ...]\n"
             "       mmdebias run --resume DIR --checkpoint ckpt-<step>.pt [key.path=value ...]\n"
             "       mmdebias run MANIFEST --out DIR --force [key.path=value ...]\n"
             "Trains and evaluates; writes the resolved manifest, log.txt, metrics.jsonl, checkpoints and summary.json.\n"
             "One process at a time writes a run directory: another `run`, `run --resume` or `eval` of it is refused\n"
             "(exit 2, naming the PID and host that hold it). A new run does not start over another run or files that\n"
             "are not a run's without --force (which moves them aside, never deletes).\n"
             "SIGTERM or SIGINT during training saves a checkpoint at the end of the step and exits with 128 + the signal\n"
             "(143, 130); a second SIGINT exits at once."))
    return 0;
  std::vector<std::string> rest = positional_args(vm);
  core::RunRequest request;
  if (vm.count("resume")) {
    request.resume = vm["resume"].as<std::string>();
    if (vm.count("checkpoint")) request.checkpoint = vm["checkpoint"].as<std::string>();
    if (vm.count("force")) throw core::InputError("mmdebias run: --force starts a new run; it does not go with --resume (see mmdebias run --help)");
    request.overrides = core::parse_overrides(rest);
  } else {
    if (rest.empty()) throw core::InputError("mmdebias run: a MANIFEST is required (see mmdebias run --help)");
    if (vm.count("checkpoint")) throw core::InputError("mmdebias run: --checkpoint goes with --resume DIR (see mmdebias run --help)");
    request.manifest_file = rest[0];
    request.overrides = core::parse_overrides({rest.begin() + 1, rest.end()});
    if (vm.count("out")) request.out = vm["out"].as<std::string>();
    request.force = vm.count("force") > 0;
  }
  return run_and_print(std::move(request), vm);
}

}  // namespace mmdebias::host
