// mmdebias: the command-line host. Dispatches to subcommands and maps errors to exit codes
// (0 ok, 2 bad input, 1 failure while running; a run stopped by a signal returns 128 + signal).
#include <iostream>
#include <map>

#include <boost/program_options/errors.hpp>

#include "commands.hpp"
#include "mmdebias/core/errors.hpp"

namespace {

using Command = int (*)(const mmdebias::host::Args&);

struct Entry {
  Command run;
  const char* summary;
};

const std::map<std::string, Entry>& commands() {
  static const std::map<std::string, Entry> table = {
      {"plugins", {mmdebias::host::cmd_plugins, "list the plugins found, with their status and components"}},
      {"describe", {mmdebias::host::cmd_describe, "show a component's options and capabilities"}},
      {"validate", {mmdebias::host::cmd_validate, "check a manifest and print it resolved, or every error"}},
      {"run", {mmdebias::host::cmd_run, "train and evaluate a manifest into a run directory (or --resume one)"}},
      {"sweep", {mmdebias::host::cmd_sweep, "run a grid of configurations x seeds, continue it, and aggregate it"}},
      {"eval", {mmdebias::host::cmd_eval, "evaluate a run's latest checkpoint, e.g. on another split"}},
      {"export", {mmdebias::host::cmd_export, "write a run's trained pipeline as TorchScript + safetensors for PyTorch"}},
      {"demo", {mmdebias::host::cmd_demo, "run the embedded default manifest and print its summary"}},
      {"report", {mmdebias::host::cmd_report, "write a self-contained HTML report with plots of a run, or compare two"}},
      {"new-plugin", {mmdebias::host::cmd_new_plugin, "write a plugin skeleton that builds against the installed SDK"}},
  };
  return table;
}

void print_usage(std::ostream& out) {
  out << "Usage: mmdebias COMMAND [ARGS...]   (mmdebias COMMAND --help for a command's options)\n\nCommands:\n";
  for (const auto& kv : commands()) out << "  " << kv.first << std::string(12 - kv.first.size(), ' ') << kv.second.summary << "\n";
  out << "\nExit codes: 0 ok, 2 bad input (manifest, arguments, refused plugin), 1 failure while running,\n"
         "143 / 130 a run stopped by SIGTERM / SIGINT (its checkpoint saved; continue with run --resume).\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    print_usage(args.empty() ? std::cerr : std::cout);
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "--version") {
    std::cout << "mmdebias " << MMDEBIAS_VERSION << "\n";
    return 0;
  }
  auto it = commands().find(args[0]);
  if (it == commands().end()) {
    std::cerr << "mmdebias: unknown command '" << args[0] << "'\n";
    print_usage(std::cerr);
    return 2;
  }
  try {
    return it->second.run({args.begin() + 1, args.end()});
  } catch (const boost::program_options::error& e) {
    std::cerr << "mmdebias " << args[0] << ": " << e.what() << " (see mmdebias " << args[0] << " --help)\n";
    return 2;
  } catch (const mmdebias::core::InputError& e) {
    std::cerr << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "mmdebias " << args[0] << ": error: " << e.what() << "\n";
    return 1;
  }
}
