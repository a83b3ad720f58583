// `mmdebias report`, and the summary table every run prints: one run's (or two runs') metrics, plots, manifest and provenance as one self-contained
// HTML file. Plots are drawn by gnuplot (Debian's gnuplot-nox) as SVG and inlined.
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
/// (overlaid curves, both in every table). Throws InputError for a directory that is not a run or when
/// gnuplot is not installed, RunError when gnuplot fails or the file cannot be written.
ReportResult write_report(const std::vector<std::filesystem::path>& runs, const std::filesystem::path& out);

/// A readable table of a run's summary (or an evaluation's result): what `run`, `demo` and `eval` print.
std::string summary_table(const nlohmann::json& summary);

}  // namespace mmdebias::core
