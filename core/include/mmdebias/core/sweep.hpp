// `mmdebias sweep`: a grid of configurations x seeds, each an ordinary run directory, run (several at once) or
// continued, then aggregated over seeds into sweep.json and sweep.csv, with paired differences against a baseline.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "mmdebias/core/manifest.hpp"

namespace mmdebias::core {

/// One swept key and the values it takes ("interventions.1.gamma=0,0.5,1"), or the arms of an --arms file (key
/// "arm", a value per arm, each setting several keys).
struct SweepAxis {
  std::string key;                          ///< Dotted key path, as in an override; "arm" for arms.
  std::vector<std::string> values;          ///< Its values (arm names), in the order given.
  std::vector<std::vector<Override>> sets;  ///< What each value overrides (key=value alone, or an arm's keys).
};

/// One point of the grid: a value for every axis.
struct SweepConfig {
  std::string name;                                         ///< "key=value,key2=value2" ("base" when nothing is swept).
  std::string dir;                                          ///< Its directory under the sweep's, a file-system-safe form of name.
  std::vector<std::pair<std::string, std::string>> choices; ///< (axis key, value) per axis.
  std::vector<Override> overrides;                          ///< What the choices override, in axis order.
};

/// What `mmdebias sweep` was given, its words split into fixed overrides and axes.
struct SweepGrid {
  std::filesystem::path manifest;  ///< The manifest every run starts from.
  std::vector<Override> fixed;     ///< Overrides with one value: every run gets them.
  std::vector<SweepAxis> axes;     ///< Arms (when given), then overrides with several values (split at top-level commas).
  std::filesystem::path arms_file; ///< The --arms file, or empty.
  std::vector<int64_t> seeds;      ///< run.seed of each run of a configuration.
  std::string seeds_text;          ///< The seeds as given ("0-4").
};

/// Splits `key=v1,v2` words into fixed overrides and axes (commas inside [] or {} or quotes do not split), and
/// parses a seed list ("0-4", "0,2,7", "3"); with an arms file, its arms are the first axis. Throws InputError
/// naming the word.
SweepGrid parse_sweep_words(const std::filesystem::path& manifest, const std::vector<std::string>& words, const std::string& seeds,
                            const std::filesystem::path& arms_file = {});

/// The arms of a YAML file (arm name -> {key.path: value, ...}; {} is the manifest as it is), as the axis "arm",
/// the first axis of the grid. Throws InputError naming the file, line and arm when it is not such a mapping.
SweepAxis parse_arms_file(const std::filesystem::path& file);

/// Every configuration of the grid (the cartesian product of the axes, the first axis varying slowest).
std::vector<SweepConfig> expand_grid(const SweepGrid& grid);

/// The configuration that `baseline` names: "key=value[,key2=value2]" (each a swept key) or a configuration's
/// name. Throws InputError listing the configurations when it names none or several.
size_t find_baseline(const std::vector<SweepConfig>& configs, const std::vector<SweepAxis>& axes, const std::string& baseline);

/// What `mmdebias sweep` does.
struct SweepRequest {
  SweepGrid grid;                        ///< The grid.
  std::filesystem::path out;             ///< The sweep directory.
  std::filesystem::path executable;      ///< The mmdebias binary each run is started with.
  std::vector<std::string> run_options;  ///< Options passed on to every `mmdebias run` (--plugin-path ...).
  int jobs = 1;                          ///< Runs at once; the cores are split between them.
  std::string baseline;                  ///< "key=value[,...]" naming the baseline configuration, or empty.
  std::optional<int64_t> task;           ///< Only this grid index (a job-array task): no lock, no aggregation.
  std::vector<std::string> command;      ///< The command line, recorded in sweep.json.
  std::function<void(const std::string&)> progress;  ///< Told of each run as it starts and ends (one line each).
};

/// How a sweep ended.
struct SweepOutcome {
  int finished = 0;          ///< Runs with a summary.json.
  int failed = 0;            ///< Runs whose process failed (named on stderr, with their log).
  int stopped_by_signal = 0; ///< SIGTERM/SIGINT that stopped the sweep (its runs checkpointed), or 0.
  std::string table;         ///< The aggregate, as a readable table (empty for a task or a stopped sweep).
};

/// Runs what the grid lacks (skipping finished runs, resuming unfinished ones) and aggregates. Throws
/// InputError for a grid that names no baseline it holds, or a directory that holds another sweep.
SweepOutcome run_sweep(const SweepRequest& request);

/// A Slurm job-array script (one task per run) for the same grid; the plain command aggregates afterwards.
std::string slurm_script(const SweepRequest& request);

}  // namespace mmdebias::core
