// The parts of `mmdebias report` (data, plots, gnuplot, page, run_facts, run_page; sweep_* in sweep.hpp), shared within core.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace mmdebias::core::report {

/// Per-sample results of the final evaluation (eval-scores-<split>.csv).
struct Samples {
  std::vector<int> ood;                                ///< 1 for an OOD sample.
  std::map<std::string, std::vector<double>> scores;   ///< Scorer -> one score per sample.
};

/// Everything the report shows of one run.
struct Run {
  std::string label;                    ///< "A"/"B" in a comparison, empty for a report of one run.
  std::filesystem::path dir;            ///< The run directory.
  std::vector<nlohmann::json> train;    ///< metrics.jsonl lines of `type: train`, in order.
  std::vector<nlohmann::json> evals;    ///< metrics.jsonl lines of `type: eval`, in order.
  nlohmann::json summary;               ///< summary.json (null when the run did not finish).
  std::string resolved_text;            ///< resolved.yaml as written.
  Samples samples;                      ///< Per-sample scores (empty when the run predates them).
};

/// Reads a run directory; throws InputError when it is not one (no resolved.yaml or metrics.jsonl).
Run load_run(const std::filesystem::path& dir);

/// The final evaluation of a run: summary.json's, else the last eval line, else null.
nlohmann::json final_eval(const Run& run);

/// One curve: its legend title and points.
struct Series {
  std::string title;                            ///< Legend entry.
  std::vector<std::pair<double, double>> xy;    ///< Points in x order.
  int color = 1;                                ///< gnuplot line colour index (same metric, same colour).
  int dash = 1;                                 ///< gnuplot dash type (one per run in a comparison).
};

/// A figure to draw: its page id and caption, and the gnuplot commands that draw it (without terminal/output).
struct Plot {
  std::string id;       ///< Unique HTML id, e.g. "loss" or "roc-msp".
  std::string caption;  ///< What the figure shows.
  std::string script;   ///< gnuplot commands (data blocks and plot) for this figure.
};

/// A drawn figure: the plot and its SVG, ready to inline.
struct Figure {
  Plot plot;        ///< What was drawn.
  std::string svg;  ///< The <svg> element, ids made unique to this figure.
};

/// Every plot of the runs (overlaid in a comparison, or one per run where overlaying would not read).
std::vector<Plot> make_plots(const std::vector<Run>& runs);

/// gnuplot commands for a line chart of the series (x label, y label; lines with points when few points).
std::string line_chart(const std::string& title, const std::string& xlabel, const std::string& ylabel, const std::vector<Series>& series);

/// Draws every plot with one gnuplot process; throws InputError when gnuplot is not installed.
std::vector<Figure> draw(const std::vector<Plot>& plots);

/// The whole HTML page of one run, or two side by side.
std::string html_page(const std::vector<Run>& runs, const std::vector<Figure>& figures);

/// One line of what a run was: "device" -> "cpu · fp32 · 1 thread · 1 process".
struct Fact {
  std::string label;  ///< What it is.
  std::string value;  ///< As shown (plain text).
  std::string title;  ///< A longer form shown on hover (the whole digest), or empty.
};

/// What the run was, in the order the page shows it.
std::vector<Fact> run_facts(const Run& run);

/// The facts as tiles for one run, or as a table with a column per run (rows that differ marked).
std::string facts_html(const std::vector<Run>& runs);

/// A table of the resolved-manifest keys whose values differ between a and b.
std::string manifest_differences(const Run& a, const Run& b);

/// A whole HTML document: the shared stylesheet, the title, the body inside <main>.
std::string html_document(const std::string& title, const std::string& body);

/// The figures in a responsive grid, each a <figure id=...> with its caption.
std::string figure_grid(const std::vector<Figure>& figures);

/// Text made safe inside HTML elements and attributes.
std::string escape_html(const std::string& text);

/// gnuplot double-quoted string of text.
std::string gnuplot_quote(const std::string& text);

/// A number as gnuplot data (full precision).
std::string gnuplot_number(double v);

/// Page ids are simple so that tests and links can name them: lower-case letters, digits and '-'.
std::string id_part(const std::string& name);

}  // namespace mmdebias::core::report
