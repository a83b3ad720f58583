// What `run` and `demo` share: the run itself, then the summary table (rank 0) or the rank's digest.
#include <unistd.h>

#include <iostream>

#include "commands.hpp"
#include "mmdebias/core/report.hpp"
#include "mmdebias/core/stop_request.hpp"

namespace po = boost::program_options;

namespace mmdebias::host {

int run_and_print(core::RunRequest request, const po::variables_map& vm) {
  request.search = search_path(vm);
  request.interactive = ::isatty(STDERR_FILENO) != 0;
  core::RunOutcome outcome = core::run_pipeline(request);
  if (outcome.stopped_by_signal != 0) return core::exit_code_for_signal(outcome.stopped_by_signal);  // the log said why
  // Rank 0 prints the table; other ranks only their digest (which must equal rank 0's).
  if (outcome.summary.value("rank", 0) == 0) std::cout << core::summary_table(outcome.summary);
  else std::cout << "rank " << outcome.summary["rank"] << " params_sha256 " << outcome.summary["params_sha256"].get<std::string>() << "\n";
  return 0;
}

}  // namespace mmdebias::host
