// `mmdebias report`, and the summary table every run prints: one run's (or two runs', or a sweep's) metrics, plots, manifest and
// provenance as one self-contained HTML file. Plots are drawn by gnuplot (Debian's gnuplot-nox) as SVG and inlined.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mmdebias::core {

/// What write_report produced.
struct ReportResult {
  std::filesystem::path file;       ///< The HTML file written.
  std::vector<std::string> figures; ///< The id of every figure in it, in page order.
};

/// Reads one or two run directories and writes their report to out: one run alone, or two side by side
/// (overlaid curves, both in every table, B - A). One sweep directory (it holds sweep.json) gets the sweep
/// report. Throws InputError for a directory that is neither, or when gnuplot is not installed, RunError
/// when gnuplot fails or the file cannot be written.
ReportResult write_report(const std::vector<std::filesystem::path>& runs, const std::filesystem::path& out);

/// Whether dir is a sweep directory: one that holds sweep.json (written by `mmdebias sweep`).
bool is_sweep_directory(const std::filesystem::path& dir);

/// The report of a sweep: its grid and runs, per configuration mean ± std, 95% interval and n of every metric,
/// the paired difference to the baseline, a figure per metric. Throws InputError naming sweep.json and the field
/// when the file is missing or malformed.
ReportResult write_sweep_report(const std::filesystem::path& sweep_dir, const std::filesystem::path& out);

/// A readable table of a run's summary (or an evaluation's result): what `run`, `demo` and `eval` print.
std::string summary_table(const nlohmann::json& summary);

}  // namespace mmdebias::core
