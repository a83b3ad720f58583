// The sweep report: what was swept (manifest, axes, seeds, baseline), the runs with links to their own
// reports, one table per metric group (mean ± std, 95% interval, n; the paired difference to the baseline
// with its interval, marked where it excludes zero), and a figure per metric.
#include <algorithm>
#include <cctype>
#include <cmath>

#include "common/atomic_file.hpp"
#include "mmdebias/core/errors.hpp"
#include "mmdebias/core/report.hpp"
#include "report/format.hpp"
#include "report/sweep.hpp"

namespace mmdebias::core {
namespace report {
namespace fs = std::filesystem;
namespace {

std::string td(const std::string& cls, const std::string& text, const std::string& extra = "") {
  return "<td class=\"" + cls + "\"" + extra + ">" + text + "</td>";
}

// The unit of a table's numbers: percentages keep "%" (and "pp" for differences) in every cell, other units are
// written once, in the metric's label ("samples/s", "training time (s)"), so that the cells stay short.
std::string row_label(const std::string& metric) {
  const Unit unit = metric_kind(metric).unit;
  const std::string label = metric_label(metric), suffix = unit_suffix(unit);
  if (unit == Unit::Fraction || suffix.empty() || label == suffix.substr(1)) return label;
  return label + " (" + suffix.substr(1) + ")";
}

// "81.00 ± 1.20%": one unit for both numbers.
std::string mean_std(const Stat& s, Unit unit) {
  if (!s.mean) return "–";
  const std::string suffix = unit == Unit::Fraction ? "%" : "";
  if (!s.std) return format_bare(*s.mean, unit) + suffix;
  return format_bare(*s.mean, unit) + " ± " + format_bare(*s.std, unit) + suffix;
}

std::string interval(const Stat& s, Unit unit) {
  if (!s.ci95) return "–";
  return "[" + format_bare(s.ci95->first, unit) + ", " + format_bare(s.ci95->second, unit) + "]" + (unit == Unit::Fraction ? "%" : "");
}

// A signed difference in the table's unit: percentage points for percentages, else the bare number.
std::string delta(double d, Unit unit) {
  if (unit == Unit::Fraction || d == 0) return format_delta(d, unit);
  return (d > 0 ? "+" : "-") + format_bare(std::fabs(d), unit);
}

std::string delta_interval(const Stat& s, Unit unit) {
  if (!s.ci95) return "–";
  return "[" + delta(s.ci95->first, unit) + ", " + delta(s.ci95->second, unit) + "]";
}

bool excludes_zero(const Stat& s) { return s.ci95 && (s.ci95->first > 0 || s.ci95->second < 0); }

std::string facts(const Sweep& sweep) {
  int64_t finished = 0, failed = 0, missing = 0;
  for (const auto& c : sweep.configs)
    for (const auto& r : c.runs) (r.status == "finished" ? finished : r.status == "failed" ? failed : missing) += 1;
  std::string axes, seeds;
  for (const auto& a : sweep.axes) {
    std::string values;
    for (const auto& v : a.values) values += (values.empty() ? "" : ", ") + v;
    axes += (axes.empty() ? "" : "; ") + a.key + " ∈ {" + values + "}";
  }
  for (auto seed : sweep.seeds) seeds += (seeds.empty() ? "" : ", ") + std::to_string(seed);
  const std::vector<std::pair<std::string, std::string>> rows = {
      {"manifest", sweep.manifest.empty() ? "–" : sweep.manifest},
      {"grid", axes.empty() ? "no axes (seeds only)" : axes},
      {"seeds", seeds + " (" + thousands(static_cast<int64_t>(sweep.seeds.size())) + ")"},
      {"configurations", thousands(static_cast<int64_t>(sweep.configs.size()))},
      {"runs", thousands(finished) + " finished · " + thousands(failed) + " failed · " + thousands(missing) + " missing"},
      {"baseline", sweep.baseline ? *sweep.baseline : "none"}};
  std::string s = "<dl class=facts>\n";
  for (const auto& [k, v] : rows) s += "<div><dt>" + k + "</dt><dd>" + escape_html(v) + "</dd></div>\n";
  s += "</dl>\n";
  if (!sweep.command.empty()) s += "<p class=note>command: <code>" + escape_html(sweep.command) + "</code></p>\n";
  return s;
}

// A link's href: the path relative to the page, each segment percent-encoded (a config name holds '=', may hold ' ').
std::string href(const fs::path& target, const fs::path& page_dir) {
  const fs::path rel = fs::weakly_canonical(target).lexically_relative(fs::weakly_canonical(page_dir));
  const std::string text = (rel.empty() ? target : rel).generic_string();
  std::string out;
  const char* hex = "0123456789ABCDEF";
  for (unsigned char c : text) {
    if (std::isalnum(c) || std::string("-._~/=,+").find(static_cast<char>(c)) != std::string::npos) out += static_cast<char>(c);
    else out += std::string("%") + hex[c >> 4] + hex[c & 15];
  }
  return out;
}

// The grid of runs: a row per configuration, a column per seed, each cell its status and a link to the run's
// report (or to the run directory while its report is not written yet).
std::string runs_table(const Sweep& sweep, const fs::path& page_dir) {
  std::string s = "<div class=scroll><table id=runs><thead><tr><th>configuration</th>";
  for (auto seed : sweep.seeds) s += "<th>seed " + std::to_string(seed) + "</th>";
  s += "</tr></thead><tbody>\n";
  bool any_unwritten = false;
  for (const auto& c : sweep.configs) {
    s += "<tr><th>" + escape_html(c.name) + (sweep.baseline && c.name == *sweep.baseline ? "<span class=tag>baseline</span>" : "") + "</th>";
    for (auto seed : sweep.seeds) {
      auto it = std::find_if(c.runs.begin(), c.runs.end(), [&](const SweepRun& r) { return r.seed == seed; });
      if (it == c.runs.end()) {
        s += "<td class=missing>–</td>";
        continue;
      }
      const fs::path dir = sweep.dir / it->dir;
      const bool has_report = fs::exists(dir / "report.html");
      any_unwritten = any_unwritten || (!has_report && it->status != "missing");
      const std::string mark = it->status == "finished" ? "✓" : it->status == "failed" ? "✗" : "–";
      std::string link = it->status == "missing" ? it->status
                         : "<a href=\"" + href(has_report ? dir / "report.html" : dir, page_dir) + "\">" + (has_report ? "report" : it->status) + "</a>";
      s += "<td class=" + it->status + " title=\"" + escape_html(it->dir) + ": " + it->status + "\">" + mark + " " + link + "</td>";
    }
    s += "</tr>\n";
  }
  s += "</tbody></table></div>\n";
  if (any_unwritten) s += "<p class=note>Links go to a run's report.html where it was written (<code>mmdebias report RUN_DIR</code>), else to the run directory.</p>\n";
  return s;
}

std::string group_table(const Sweep& sweep, const std::vector<std::string>& metrics) {
  const bool paired = sweep.baseline.has_value();
  // Fixed column widths: the tables of every group line up.
  std::string s = paired ? "<div class=scroll><table class=sweep><colgroup><col style=\"width:12%\"><col style=\"width:23%\"><col style=\"width:14%\">"
                           "<col style=\"width:15%\"><col style=\"width:5%\"><col style=\"width:12%\"><col style=\"width:19%\"></colgroup>"
                         : "<div class=scroll><table class=sweep><colgroup><col style=\"width:16%\"><col style=\"width:30%\"><col style=\"width:20%\">"
                           "<col style=\"width:22%\"><col style=\"width:12%\"></colgroup>";
  s += "<thead><tr><th>metric</th><th>configuration</th><th class=n>mean ± std</th><th class=n>95% interval</th><th class=n>n</th>";
  if (paired) s += "<th class=n>Δ vs baseline</th><th class=n>Δ 95% interval</th>";
  s += "</tr></thead>\n";
  for (const auto& metric : metrics) {  // a <tbody> per metric: the stripes follow metrics, not rows
    const MetricKind kind = metric_kind(metric);
    bool first = true;
    s += "<tbody>\n";
    for (const auto& c : sweep.configs) {
      s += "<tr data-metric=\"" + escape_html(metric) + "\" data-config=\"" + escape_html(c.name) + "\">";
      if (first)
        s += "<th rowspan=" + std::to_string(sweep.configs.size()) + " title=\"" + escape_html(metric) + "\">" + escape_html(row_label(metric)) + "</th>";
      first = false;
      const bool is_baseline = sweep.baseline && c.name == *sweep.baseline;
      s += "<td class=config>" + escape_html(c.name) + (is_baseline ? "<span class=tag>baseline</span>" : "") + "</td>";
      auto it = c.metrics.find(metric);
      const Stat none;
      const Stat& st = it == c.metrics.end() ? none : it->second;
      s += td("n mean", mean_std(st, kind.unit)) + td("n ci", interval(st, kind.unit)) + td("n count", std::to_string(st.n));
      if (paired) {
        auto d = c.vs_baseline.find(metric);
        if (is_baseline || d == c.vs_baseline.end() || !d->second.mean) {
          s += td("n dmean", "–") + td("n dci", "–");
        } else {
          const Stat& ds = d->second;
          const bool sig = excludes_zero(ds);
          const std::string direction = sig ? delta_class(*ds.mean, kind.better) : "";
          s += td("n dmean " + direction, delta(*ds.mean, kind.unit)) +
               td("n dci" + std::string(sig ? " sig " : " ") + direction, delta_interval(ds, kind.unit) + (sig ? " *" : ""),
                  sig ? " title=\"the interval excludes zero\"" : "");
        }
      }
      s += "</tr>\n";
    }
    s += "</tbody>\n";
  }
  return s + "</table></div>\n";
}

}  // namespace

std::string sweep_page(const Sweep& sweep, const std::vector<Figure>& figures, const fs::path& out) {
  const std::string name = sweep.dir.lexically_normal().filename().string().empty() ? sweep.dir.lexically_normal().parent_path().filename().string()
                                                                                      : sweep.dir.lexically_normal().filename().string();
  std::string body = "<h1>" + escape_html(name) + "<small>mmdebias sweep report</small></h1>\n<p class=sub><code>" +
                     escape_html(sweep.dir.string()) + "</code></p>\n" + facts(sweep);
  body += "<h2>Runs</h2>\n" + runs_table(sweep, fs::absolute(out).parent_path());
  body += "<h2>Results</h2>\n<p class=note>Mean ± standard deviation over the seeds, the 95% interval of the mean, and n, the runs "
          "that gave a value.";
  if (sweep.baseline)
    body += " Δ is the paired difference to the baseline (" + escape_html(*sweep.baseline) +
            ") over the same seeds, in percentage points (pp) for percentages; <b>*</b> marks an interval that excludes zero, green where the "
            "configuration does better than the baseline, red where worse.";
  body += "</p>\n";
  for (size_t i = 0; i < sweep.metrics.size();) {
    const std::string group = metric_group(sweep.metrics[i]);
    std::vector<std::string> in_group;
    for (; i < sweep.metrics.size() && metric_group(sweep.metrics[i]) == group; ++i) in_group.push_back(sweep.metrics[i]);
    body += "<h3 id=\"group-" + id_part(group) + "\">" + escape_html(group_heading(group)) + "</h3>\n" + group_table(sweep, in_group);
  }
  if (sweep.metrics.empty()) body += "<p>No configuration has metrics: every run failed or is missing.</p>\n";
  body += "<h2>Plots</h2>\n" + figure_grid(figures);
  return html_document("mmdebias sweep: " + name, body);
}

}  // namespace report

bool is_sweep_directory(const std::filesystem::path& dir) { return std::filesystem::exists(dir / "sweep.json"); }

ReportResult write_sweep_report(const std::filesystem::path& dir, const std::filesystem::path& out) {
  const report::Sweep sweep = report::load_sweep(dir);
  std::vector<report::Figure> figures = report::draw(report::sweep_plots(sweep));
  write_file_atomically(out, report::sweep_page(sweep, figures, out));
  ReportResult result{out, {}};
  for (const auto& f : figures) result.figures.push_back(f.plot.id);
  return result;
}

}  // namespace mmdebias::core
