// `mmdebias sweep --print-slurm`: the same grid as a Slurm job array, one task per run; each task is
// `mmdebias sweep ... --task $SLURM_ARRAY_TASK_ID`, so a requeued or resubmitted task skips or resumes its run.
#include "common/text.hpp"
#include "mmdebias/core/sweep.hpp"

namespace mmdebias::core {
namespace fs = std::filesystem;
std::string slurm_script(const SweepRequest& request) {
  const size_t configs = expand_grid(request.grid).size(), runs = configs * request.grid.seeds.size();
  const fs::path out = fs::absolute(request.out).lexically_normal();
  std::vector<std::string> words = {request.executable.string(), "sweep", fs::absolute(request.grid.manifest).lexically_normal().string()};
  for (const Override& o : request.grid.fixed) words.push_back(o.text);
  for (const SweepAxis& a : request.grid.axes)
    if (a.key != "arm") words.push_back(a.key + "=" + join(a.values, ","));
  if (!request.grid.arms_file.empty()) words.insert(words.end(), {"--arms", fs::absolute(request.grid.arms_file).lexically_normal().string()});
  words.insert(words.end(), {"--seeds", request.grid.seeds_text, "--out", out.string()});
  words.insert(words.end(), request.run_options.begin(), request.run_options.end());
  std::string command;
  for (const std::string& w : words) command += (command.empty() ? "" : " ") + shell_quote(w);
  std::string baseline = request.baseline.empty() ? "" : " --baseline " + shell_quote(request.baseline);
  std::string script = "#!/bin/bash\n";
  script += "# mmdebias sweep as a Slurm job array: " + std::to_string(configs) + " configuration(s) x " + std::to_string(request.grid.seeds.size()) +
            " seed(s) = " + std::to_string(runs) + " runs, one per task, into " + out.string() + ".\n";
  script += "# Submit with `sbatch` this file. A task that is requeued or submitted again skips its finished run and resumes an\n"
            "# unfinished one. When all have ended, aggregate into sweep.json and sweep.csv (finished runs are skipped):\n";
  script += "#   " + command + baseline + "\n";
  script += "#SBATCH --job-name=mmdebias-sweep\n";
  script += "#SBATCH --array=0-" + std::to_string(runs - 1) + "\n";
  script += "#SBATCH --output=" + (out / "slurm-%A_%a.out").string() + "\n";
  script += "#SBATCH --signal=B:TERM@120\n";  // SIGTERM 2 minutes before the time limit: the run checkpoints and stops
  script += "set -euo pipefail\n";
  script += "mkdir -p " + shell_quote(out.string()) + "\n";
  script += "exec " + command + " --task \"$SLURM_ARRAY_TASK_ID\"\n";
  return script;
}

}  // namespace mmdebias::core
