// `mmdebias sweep MANIFEST [key=v1,v2 ...] --seeds 0-4 --out DIR [--jobs N] [--baseline key=v] [--print-slurm]`.
#include <iostream>

#include "commands.hpp"
#include "mmdebias/core/errors.hpp"
#include "mmdebias/core/stop_request.hpp"
#include "mmdebias/core/sweep.hpp"
#include "mmdebias/core/validate.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace mmdebias::host {
namespace {

// Every configuration is checked against the plugins before any run starts: a typo in a swept value fails at
// once, naming the configuration, rather than in the middle of the night in run 17.
void validate_grid(const core::SweepGrid& grid, const po::variables_map& vm) {
  std::optional<core::PluginHost> host;
  for (const core::SweepConfig& config : core::expand_grid(grid)) {
    std::vector<core::Override> overrides = grid.fixed;
    overrides.insert(overrides.end(), config.overrides.begin(), config.overrides.end());
    overrides.push_back({"run.seed", std::to_string(grid.seeds.front()), "run.seed=" + std::to_string(grid.seeds.front())});
    core::Manifest manifest = core::load_manifest(grid.manifest, overrides);
    if (!host) {
      host.emplace();
      host->load(search_path(vm, core::manifest_plugin_paths(manifest)), core::manifest_sha256_pins(manifest));
    }
    try {
      core::validate_report(manifest, *host);
    } catch (const core::InputErrors& e) {
      std::vector<std::string> lines = {"configuration " + config.name + " does not validate:"};
      for (const std::string& m : e.messages()) lines.push_back(m);
      throw core::InputErrors(lines);
    }
  }
}

// What every `mmdebias run` of the sweep is given besides the manifest: where to find plugins, whom to trust.
std::vector<std::string> run_options(const po::variables_map& vm) {
  std::vector<std::string> options;
  if (vm.count("plugin-path"))
    for (const std::string& p : vm["plugin-path"].as<std::vector<std::string>>()) options.insert(options.end(), {"--plugin-path", fs::absolute(p).string()});
  if (vm.count("trusted-plugins-only")) options.push_back("--trusted-plugins-only");
  return options;
}

}  // namespace

int cmd_sweep(const Args& args) {
  po::options_description options("Options");
  add_common_options(options);
  add_trust_option(options);
  options.add_options()
      ("out", po::value<std::string>(), "the sweep directory (required): <configuration>/seed-<seed>/ per run, sweep.json, sweep.csv")
      ("seeds", po::value<std::string>()->default_value("0-2"), "run.seed of each configuration's runs: 0-4, 0,1,7, or 3")
      ("jobs,j", po::value<int>()->default_value(1), "runs at once; the cores are split between them (run.threads = cores / jobs)")
      ("arms", po::value<std::string>(), "a YAML file of named arms, each a set of overrides (arm: {key.path: value, ...}): the axis 'arm'")
      ("baseline", po::value<std::string>(), "the configuration every other one is compared with, seed by seed: key=value of a swept key")
      ("print-slurm", "print a Slurm job-array script for the same grid (one task per run) instead of running it")
      ("task", po::value<int64_t>(), "run only this run of the grid (0-based; a job-array task): no aggregation");
  po::positional_options_description positional;
  add_positional_args(options, positional, "MANIFEST then key.path=value overrides; key.path=v1,v2 sweeps the key over its values");
  po::variables_map vm;
  if (!parse(args, options, positional, vm,
             "Usage: mmdebias sweep MANIFEST [key.path=v1,v2 ...] [key.path=value ...] [--arms FILE] --out DIR [--seeds 0-4]\n"
             "                      [--jobs N] [--baseline key.path=v1 | arm=NAME] [--print-slurm]\n"
             "Runs the grid of every swept value (a word with commas: key=v1,v2; [1,2] and quotes stay one value) x seeds,\n"
             "each an ordinary run directory DIR/<configuration>/seed-<seed> (run --resume, eval and report work on each),\n"
             "then writes DIR/sweep.json and DIR/sweep.csv: per configuration and metric the mean, std and 95% interval over\n"
             "seeds, and with --baseline the paired difference per seed with its 95% interval. The same command again skips\n"
             "finished runs and resumes unfinished ones; added seeds or values are run. SIGTERM/SIGINT checkpoint the running\n"
             "runs and stop (exit 143/130). `mmdebias report DIR` renders the sweep."))
    return 0;
  std::vector<std::string> rest = positional_args(vm);
  if (rest.empty()) throw core::InputError("mmdebias sweep: a MANIFEST is required (see mmdebias sweep --help)");
  if (!vm.count("out")) throw core::InputError("mmdebias sweep: --out DIR is required: the same command with the same --out continues a sweep");
  core::SweepRequest request;
  request.grid = core::parse_sweep_words(rest[0], {rest.begin() + 1, rest.end()}, vm["seeds"].as<std::string>(),
                                         vm.count("arms") ? fs::path(vm["arms"].as<std::string>()) : fs::path());
  request.out = fs::absolute(vm["out"].as<std::string>()).lexically_normal();
  request.jobs = vm["jobs"].as<int>();
  if (request.jobs < 1 || request.jobs > 1024) throw core::InputError("--jobs " + std::to_string(request.jobs) + ": give 1 to 1024 runs at once");
  if (vm.count("baseline")) request.baseline = vm["baseline"].as<std::string>();
  if (vm.count("task")) request.task = vm["task"].as<int64_t>();
  request.executable = fs::read_symlink("/proc/self/exe");
  request.run_options = run_options(vm);
  request.command = {"mmdebias", "sweep"};
  request.command.insert(request.command.end(), args.begin(), args.end());
  if (!request.baseline.empty()) core::find_baseline(core::expand_grid(request.grid), request.grid.axes, request.baseline);
  if (vm.count("print-slurm")) {
    std::cout << core::slurm_script(request);
    return 0;
  }
  validate_grid(request.grid, vm);
  request.progress = [](const std::string& line) { std::cout << line << std::endl; };
  const core::SweepOutcome outcome = core::run_sweep(request);
  if (outcome.stopped_by_signal) {
    std::cerr << "mmdebias sweep: stopped by " << core::signal_name(outcome.stopped_by_signal) << " with " << outcome.finished
              << " runs finished; the same command continues it\n";
    return core::exit_code_for_signal(outcome.stopped_by_signal);
  }
  if (request.task) return outcome.failed ? 1 : 0;
  std::cout << "\n" << outcome.table << "\nwrote " << (request.out / "sweep.json").string() << " and " << (request.out / "sweep.csv").string() << "\n";
  if (outcome.failed) {
    std::cerr << "mmdebias sweep: " << outcome.failed << " run(s) failed (named above, with their logs); the aggregate holds the others. "
              << "The same command runs the failed ones again\n";
    return 1;
  }
  return 0;
}

}  // namespace mmdebias::host
