#include <chrono>
#include <cstdio>
#include <iostream>

#include "commands.hpp"
#include "mmdebias/core/errors.hpp"
#include "mmdebias/core/report.hpp"

namespace po = boost::program_options;

namespace mmdebias::host {

int cmd_report(const Args& args) {
  po::options_description options("Options");
  options.add_options()("help,h", "show this help")(
      "out,o", po::value<std::string>(), "the HTML file to write (default RUN_DIR/report.html or SWEEP_DIR/report.html; for two runs A/compare-<B's name>.html)");
  po::positional_options_description positional;
  add_positional_args(options, positional, "RUN_DIR, two run directories A B to compare, or a SWEEP_DIR");
  po::variables_map vm;
  if (!parse(args, options, positional, vm,
             "Usage: mmdebias report RUN_DIR [B_RUN_DIR] [--out FILE]\n"
             "       mmdebias report SWEEP_DIR [--out FILE]\n"
             "Writes a self-contained HTML report of a run (or two side by side): what the run was, metrics, plots drawn\n"
             "by gnuplot (Debian's gnuplot-nox), plugin provenance and the resolved manifest. A directory holding\n"
             "sweep.json (made by `mmdebias sweep`) gets the sweep's report: per configuration mean ± std, 95% interval\n"
             "and n of every metric, differences to the baseline, error-bar plots. Opens offline in a browser."))
    return 0;
  std::vector<std::string> dirs = positional_args(vm);
  if (dirs.empty() || dirs.size() > 2) throw core::InputError("mmdebias report: give one RUN_DIR or SWEEP_DIR, or two run directories to compare (see mmdebias report --help)");
  std::filesystem::path out = vm.count("out") ? std::filesystem::path(vm["out"].as<std::string>())
                              : dirs.size() == 1 ? std::filesystem::path(dirs[0]) / "report.html"
                                                 : std::filesystem::path(dirs[0]) / ("compare-" + std::filesystem::path(dirs[1]).lexically_normal().filename().string() + ".html");
  const auto start = std::chrono::steady_clock::now();
  core::ReportResult result = core::write_report({dirs.begin(), dirs.end()}, out);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "wrote " << result.file.string() << " (" << result.figures.size() << " figures";
  for (size_t i = 0; i < result.figures.size(); ++i) std::cout << (i ? ", " : ": ") << result.figures[i];
  char took[32];
  std::snprintf(took, sizeof took, "%.2f", seconds);
  std::cout << ") in " << took << " s\n";
  return 0;
}

}  // namespace mmdebias::host
