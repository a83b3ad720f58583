// The sweep report's parts (sweep_data, sweep_plots, sweep_page): sweep.json, as `mmdebias sweep` writes it,
// read into types; its figures; its page.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "report/detail.hpp"

namespace mmdebias::core::report {

/// One metric over a configuration's seeds (or the paired differences to the baseline's same seeds).
struct Stat {
  int64_t n = 0;                                       ///< Runs that gave a value.
  std::optional<double> mean;                          ///< Absent when n is 0.
  std::optional<double> std;                           ///< Absent when n < 2.
  std::optional<std::pair<double, double>> ci95;       ///< 95% interval of the mean; absent when n < 2.
  std::vector<double> values;                          ///< The per-seed values (or differences).
};

/// One run of a configuration.
struct SweepRun {
  int64_t seed = 0;
  std::string dir;     ///< Relative to the sweep directory.
  std::string status;  ///< finished, failed or missing.
};

/// One point of the grid and its runs.
struct SweepConfig {
  std::string name;                                          ///< e.g. "interventions.1.gamma=0".
  std::string dir;                                           ///< Relative to the sweep directory.
  std::vector<std::pair<std::string, std::string>> overrides;  ///< Axis key -> value, in the axes' order.
  std::vector<SweepRun> runs;
  std::map<std::string, Stat> metrics;                       ///< Metric path -> over the seeds.
  std::map<std::string, Stat> vs_baseline;                   ///< Metric path -> paired differences (empty for the baseline).
};

/// One axis of the grid.
struct SweepAxis {
  std::string key;                  ///< The manifest key it overrides.
  std::vector<std::string> values;  ///< Its values, as given.
};

/// A whole sweep.json.
struct Sweep {
  std::filesystem::path dir;              ///< The sweep directory.
  std::string manifest, command;          ///< What was swept and how.
  std::vector<SweepAxis> axes;
  std::vector<int64_t> seeds;
  std::optional<std::string> baseline;    ///< A configuration's name.
  std::vector<SweepConfig> configs;
  std::vector<std::string> metrics;       ///< Every metric shown, grouped and in reading order.
};

/// Reads dir/sweep.json; throws InputError naming the file, the JSON path and what was expected when it is
/// missing or does not hold a version-1 sweep.
Sweep load_sweep(const std::filesystem::path& dir);

/// The group a metric path belongs to (its path without the last part) and the group's heading.
std::string metric_group(const std::string& metric);
std::string group_heading(const std::string& group);

/// The figure id of a metric's plot: "sweep-" and the metric path made an id.
std::string sweep_figure_id(const std::string& metric);

/// A figure per metric: each configuration's mean with its 95% interval, its seeds as dots, the baseline dashed.
std::vector<Plot> sweep_plots(const Sweep& sweep);

/// The whole HTML page of the sweep, its run links relative to out's directory.
std::string sweep_page(const Sweep& sweep, const std::vector<Figure>& figures, const std::filesystem::path& out);

}  // namespace mmdebias::core::report
