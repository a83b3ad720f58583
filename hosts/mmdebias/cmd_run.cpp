#include <unistd.h>

#include <iostream>

#include "commands.hpp"
#include "embedded_manifests.hpp"
#include "mmdebias/core/engine.hpp"
#include "mmdebias/core/errors.hpp"
#include "mmdebias/core/stop_request.hpp"

namespace po = boost::program_options;

namespace mmdebias::host {
namespace {

int run_with(core::RunRequest request, const po::variables_map& vm) {
  request.search = search_path(vm);
  request.interactive = ::isatty(STDERR_FILENO) != 0;
  core::RunOutcome outcome = core::run_pipeline(request);
  if (outcome.stopped_by_signal != 0) return core::exit_code_for_signal(outcome.stopped_by_signal);  // the log said why
  // Rank 0 prints the table; other ranks only their digest (which must equal rank 0's).
  if (outcome.summary.value("rank", 0) == 0) std::cout << core::summary_table(outcome.summary);
  else std::cout << "rank " << outcome.summary["rank"] << " params_sha256 " << outcome.summary["params_sha256"].get<std::string>() << "\n";
  return 0;
}

}  // namespace

int cmd_run(const Args& args) {
  po::options_description options("Options");
  add_common_options(options);
  options.add_options()("out", po::value<std::string>(), "run directory (default: <run.out>/<run.name>-<timestamp>)")(
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
             "Trains and evaluates; writes the resolved manifest, log.txt, metrics.jsonl, checkpoints and summary.json.\n"
             "SIGTERM or SIGINT during training saves a checkpoint at the end of the step and exits with 128 + the signal\n"
             "(143, 130); a second SIGINT exits at once."))
    return 0;
  std::vector<std::string> rest = positional_args(vm);
  core::RunRequest request;
  if (vm.count("resume")) {
    request.resume = vm["resume"].as<std::string>();
    if (vm.count("checkpoint")) request.checkpoint = vm["checkpoint"].as<std::string>();
    request.overrides = core::parse_overrides(rest);
  } else {
    if (rest.empty()) throw core::InputError("mmdebias run: a MANIFEST is required (see mmdebias run --help)");
    if (vm.count("checkpoint")) throw core::InputError("mmdebias run: --checkpoint goes with --resume DIR (see mmdebias run --help)");
    request.manifest_file = rest[0];
    request.overrides = core::parse_overrides({rest.begin() + 1, rest.end()});
    if (vm.count("out")) request.out = vm["out"].as<std::string>();
  }
  return run_with(std::move(request), vm);
}

int cmd_demo(const Args& args) {
  po::options_description options("Options");
  add_common_options(options);
  options.add_options()("out", po::value<std::string>(), "run directory (default: runs/demo-<timestamp>)")(
      "print-manifest", "print the embedded manifest and exit");
  po::positional_options_description positional;
  add_positional_args(options, positional, "key.path=value overrides");
  po::variables_map vm;
  if (!parse(args, options, positional, vm,
             "Usage: mmdebias demo [--out DIR] [key.path=value ...]\n"
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
  return run_with(std::move(request), vm);
}

int cmd_eval(const Args& args) {
  po::options_description options("Options");
  add_common_options(options);
  options.add_options()("json", "print the metrics as JSON")(
      "checkpoint", po::value<std::string>(), "evaluate this checkpoint (a file name in RUN_DIR/checkpoints) instead of the latest");
  po::positional_options_description positional;
  add_positional_args(options, positional, "RUN_DIR then key.path=value overrides");
  po::variables_map vm;
  if (!parse(args, options, positional, vm,
             "Usage: mmdebias eval RUN_DIR [--checkpoint ckpt-<step>.pt] [key.path=value ...]\n"
             "Evaluates the latest checkpoint of a run (e.g. eval.split=val); writes RUN_DIR/eval-<split>.json."))
    return 0;
  std::vector<std::string> rest = positional_args(vm);
  if (rest.empty()) throw core::InputError("mmdebias eval: a RUN_DIR is required (see mmdebias eval --help)");
  nlohmann::json result = core::evaluate_run(rest[0], core::parse_overrides({rest.begin() + 1, rest.end()}), search_path(vm),
                                             vm.count("checkpoint") ? vm["checkpoint"].as<std::string>() : "");
  if (vm.count("json")) std::cout << result.dump(2) << "\n";
  else std::cout << core::summary_table(result);
  return 0;
}

}  // namespace mmdebias::host
