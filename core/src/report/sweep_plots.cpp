// The sweep's figures: per metric, each configuration's mean with its 95% interval as an error bar, every seed
// as a small dot beside it, and the baseline's mean as a dashed line, so that overlap is seen at a glance.
#include <cmath>

#include "report/format.hpp"
#include "report/sweep.hpp"

namespace mmdebias::core::report {
namespace {

// Tick labels: the axis values alone ("0", "1") read better than the full names; several axes joined by " · ".
std::string tick_label(const SweepConfig& c) {
  if (c.overrides.empty()) return c.name;
  std::string s;
  for (const auto& [key, value] : c.overrides) s += (s.empty() ? "" : " · ") + value;
  return s;
}

std::string axis_label(const Sweep& sweep) {
  std::string s;
  for (const auto& a : sweep.axes) s += (s.empty() ? "" : " · ") + a.key;
  return s.empty() ? "configuration" : s;
}

std::string plot_of(const Sweep& sweep, const std::string& metric) {
  const MetricKind kind = metric_kind(metric);
  const double scale = kind.unit == Unit::Fraction ? 100.0 : 1.0;  // percentages, as in the tables
  std::string seeds = "$seeds << EOD\n", means = "$means << EOD\n", tics;
  std::optional<double> baseline;
  size_t longest = 0;
  bool any_seed = false;
  const size_t k = sweep.configs.size();
  for (size_t i = 0; i < k; ++i) {
    const SweepConfig& c = sweep.configs[i];
    const std::string label = tick_label(c);
    longest = std::max(longest, label.size());
    tics += (i ? ", " : "") + gnuplot_quote(label) + " " + std::to_string(i);
    auto it = c.metrics.find(metric);
    if (it == c.metrics.end() || !it->second.mean) continue;
    const Stat& s = it->second;
    any_seed = any_seed || !s.values.empty();
    const double x = static_cast<double>(i);
    // Seeds spread a little to the left of the mean so that equal values stay visible.
    for (size_t v = 0; v < s.values.size(); ++v)
      seeds += gnuplot_number(x - 0.18 + 0.1 * (static_cast<double>(v) / std::max<size_t>(1, s.values.size() - 1))) + " " +
               gnuplot_number(s.values[v] * scale) + "\n";
    const double lo = s.ci95 ? s.ci95->first : *s.mean, hi = s.ci95 ? s.ci95->second : *s.mean;
    means += gnuplot_number(x + 0.08) + " " + gnuplot_number(*s.mean * scale) + " " + gnuplot_number(lo * scale) + " " + gnuplot_number(hi * scale) + "\n";
    if (sweep.baseline && c.name == *sweep.baseline) baseline = *s.mean * scale;
  }
  seeds += "EOD\n";
  means += "EOD\n";
  const std::string ylabel = metric_label(metric) + (kind.unit == Unit::Fraction ? " (%)" : unit_suffix(kind.unit).empty() ? "" : " (" + unit_suffix(kind.unit).substr(1) + ")");
  std::string s = seeds + means + "set title " + gnuplot_quote(metric) + "\nset xlabel " + gnuplot_quote(axis_label(sweep)) +
                  "\nset ylabel " + gnuplot_quote(ylabel) + "\nset xrange [-0.6:" + gnuplot_number(static_cast<double>(k) - 0.4) + "]\n" +
                  "set offsets 0, 0, graph 0.08, graph 0.08\nset xtics (" + tics + ")" + (longest * k > 48 ? " rotate by -30" : "") +
                  "\nset grid ytics lc rgb \"#e6e9ed\"\nunset key\nset border 3\nset tics nomirror\n";
  if (baseline) s += "set arrow from graph 0, first " + gnuplot_number(*baseline) + " to graph 1, first " + gnuplot_number(*baseline) +
                     " nohead dt 2 lw 1 lc rgb \"#57606a\"\n";
  // gnuplot refuses a plot of no points: the seeds' dots only where some configuration lists its values.
  return s + "plot " + (any_seed ? "$seeds using 1:2 with points pt 7 ps 0.5 lc rgb \"#8c959f\" notitle, " : "") +
         "$means using 1:2:3:4 with yerrorbars pt 7 ps 1.0 lw 2 lc rgb \"#0969da\" notitle\n";
}

}  // namespace

std::string sweep_figure_id(const std::string& metric) { return "sweep-" + id_part(metric); }

std::vector<Plot> sweep_plots(const Sweep& sweep) {
  std::vector<Plot> plots;
  for (const auto& metric : sweep.metrics) {
    bool any = false;  // a metric no configuration has a mean of (every run failed) gets no figure
    for (const auto& c : sweep.configs) any = any || (c.metrics.count(metric) && c.metrics.at(metric).mean);
    if (!any) continue;
    plots.push_back({sweep_figure_id(metric),
                     metric_label(metric) + " per configuration: mean and 95% interval over the seeds (blue), each seed (grey)" +
                         (sweep.baseline ? "; dashed: the baseline's mean." : "."),
                     plot_of(sweep, metric)});
  }
  return plots;
}

}  // namespace mmdebias::core::report
