// `mmdebias eval RUN_DIR`: a run's checkpoint evaluated again.
#include <iostream>

#include "commands.hpp"
#include "mmdebias/core/errors.hpp"
#include "mmdebias/core/report.hpp"
#include "mmdebias/core/run.hpp"

namespace po = boost::program_options;

namespace mmdebias::host {

int cmd_eval(const Args& args) {
  po::options_description options("Options");
  add_common_options(options);
  add_trust_option(options);
  options.add_options()("json", "print the metrics as JSON")(
      "checkpoint", po::value<std::string>(), "evaluate this checkpoint (a file name in RUN_DIR/checkpoints) instead of the latest");
  po::positional_options_description positional;
  add_positional_args(options, positional, "RUN_DIR then key.path=value overrides");
  po::variables_map vm;
  if (!parse(args, options, positional, vm,
             "Usage: mmdebias eval RUN_DIR [--checkpoint ckpt-<step>.pt] [key.path=value ...]\n"
             "Evaluates the latest checkpoint of a run (e.g. eval.split=val); writes RUN_DIR/eval-<split>.json.\n"
             "Refused (exit 2, naming the PID and host) while a run or another eval writes RUN_DIR."))
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
