// The page of one run, or of two side by side: what the run was, the final evaluation (one run: classification
// and a table of its OOD scorers; two: a row per metric with B - A),
// the figures, what differs between the manifests, plugin provenance and the resolved manifests.
#include <yaml-cpp/yaml.h>

#include "common/atomic_file.hpp"
#include "mmdebias/core/errors.hpp"
#include "mmdebias/core/report.hpp"
#include "report/detail.hpp"
#include "report/format.hpp"

namespace mmdebias::core {
namespace report {
namespace {

// The value at a '/'-separated path, or null.
nlohmann::json at_path(const nlohmann::json& j, const std::string& path) {
  nlohmann::json::json_pointer p("/" + path);
  return j.is_object() && j.contains(p) ? j[p] : nlohmann::json();
}

std::string value_cell(const nlohmann::json& v, Unit unit) {
  return v.is_number() ? "<td class=n>" + format_value(v.get<double>(), unit) + "</td>" : "<td class=n>–</td>";
}

// The metrics of the final evaluation present in any run, as (label, path) in reading order.
std::vector<std::pair<std::string, std::string>> metric_rows(const std::vector<nlohmann::json>& finals) {
  std::vector<std::pair<std::string, std::string>> rows = {{"accuracy", "classification/accuracy"},
                                                           {"macro-F1", "classification/macro_f1"},
                                                           {"worst-group accuracy", "classification/worst_group_accuracy"},
                                                           {"accuracy (factual)", "factual/classification/accuracy"}};
  std::map<std::string, bool> modalities, scorers;  // ordered union over the runs
  for (const auto& f : finals) {
    const nlohmann::json per_modality = at_path(f, "per_modality_accuracy"), ood = at_path(f, "ood");  // alive while iterated
    for (const auto& kv : per_modality.items()) modalities[kv.key()] = true;
    for (const auto& kv : ood.items()) scorers[kv.key()] = true;
  }
  for (const auto& kv : modalities) rows.push_back({"accuracy (" + kv.first + " alone)", "per_modality_accuracy/" + kv.first});
  for (const auto& kv : scorers)
    for (const char* key : {"auroc", "fpr_at_95tpr", "aupr_in", "aupr_out"})
      rows.push_back({kv.first + " " + metric_label(key), "ood/" + kv.first + "/" + key});
  rows.push_back({"evaluated samples", "count"});
  rows.push_back({"of them OOD", "count_ood"});
  return rows;
}

std::string metrics_table(const std::vector<Run>& runs) {
  std::vector<nlohmann::json> finals;
  for (const auto& run : runs) finals.push_back(final_eval(run));
  std::string s = std::string("<table id=metrics><thead><tr><th>") + (runs.size() == 1 ? "classification" : "final evaluation") + "</th>";
  for (const auto& run : runs) s += "<th class=n>" + escape_html(run.label.empty() ? "value" : run.label) + "</th>";
  if (runs.size() == 2) s += "<th class=n>B − A</th>";
  s += "</tr></thead><tbody>\n";
  for (const auto& [name, path] : metric_rows(finals)) {
    if (runs.size() == 1 && path.rfind("ood/", 0) == 0) continue;  // one run: its scorers get a table of their own
    bool any = false;
    for (const auto& f : finals) any = any || at_path(f, path).is_number();
    if (!any) continue;  // e.g. no factual metrics when nothing adjusts predictions
    const MetricKind kind = metric_kind(path);
    s += "<tr><th>" + escape_html(name) + "</th>";
    for (const auto& f : finals) s += value_cell(at_path(f, path), kind.unit);
    if (runs.size() == 2) {
      const nlohmann::json a = at_path(finals[0], path), b = at_path(finals[1], path);
      if (a.is_number() && b.is_number()) {
        const double d = b.get<double>() - a.get<double>();
        const std::string cls = delta_class(d, kind.better);
        s += "<td class=\"n " + cls + "\">" + format_delta(d, kind.unit) + "</td>";
      } else {
        s += "<td class=n>–</td>";
      }
    }
    s += "</tr>\n";
  }
  s += "</tbody></table>\n";
  if (runs.size() == 2) s += "<p class=note>B − A in percentage points (pp) for percentages; green where B is better, red where worse.</p>\n";
  return s;
}

// One run's OOD detection: a row per scorer, a column per metric.
std::string ood_table(const Run& run) {
  const nlohmann::json ood = at_path(final_eval(run), "ood");
  if (!ood.is_object() || ood.empty()) return "";
  const std::vector<std::string> keys = {"auroc", "fpr_at_95tpr", "aupr_in", "aupr_out"};
  std::string s = "<table id=ood><thead><tr><th>OOD scorer</th>";
  for (const auto& k : keys) s += "<th class=n>" + metric_label(k) + "</th>";
  s += "</tr></thead><tbody>\n";
  for (const auto& [scorer, m] : ood.items()) {
    s += "<tr><th>" + escape_html(scorer) + "</th>";
    for (const auto& k : keys) s += value_cell(m.value(k, nlohmann::json()), Unit::Fraction);
    s += "</tr>\n";
  }
  return s + "</tbody></table>\n";
}

std::string scalar(const YAML::Node& n) { return n && n.IsScalar() ? n.as<std::string>() : ""; }

std::string provenance(const Run& run) {
  YAML::Node prov;
  try {
    prov = YAML::Load(run.resolved_text)["provenance"];
  } catch (const YAML::Exception&) {
    return "<p>resolved.yaml does not parse.</p>\n";
  }
  if (!prov) return "<p>resolved.yaml has no provenance.</p>\n";
  std::string s = "<p class=note>host " + escape_html(scalar(prov["host"]["version"])) + ", <code>" +
                  escape_html(scalar(prov["host"]["fingerprint"])) + "</code></p>\n";
  s += "<div class=scroll><table><thead><tr><th>plugin</th><th>version</th><th>ABI</th><th>sha256</th><th>path</th></tr></thead><tbody>\n";
  for (const auto& p : prov["plugins"])
    s += "<tr><td>" + escape_html(scalar(p.first)) + "</td><td>" + escape_html(scalar(p.second["version"])) + "</td><td>" +
         escape_html(scalar(p.second["abi"])) + "</td><td title=\"" + escape_html(scalar(p.second["sha256"])) + "\"><code>" +
         escape_html(scalar(p.second["sha256"]).substr(0, 12)) + "…</code></td><td><code>" + escape_html(scalar(p.second["path"])) +
         "</code></td></tr>\n";
  return s + "</tbody></table></div>\n";
}

std::string run_title(const Run& run) {
  try {
    const std::string name = scalar(YAML::Load(run.resolved_text)["run"]["name"]);
    if (!name.empty()) return name;
  } catch (const YAML::Exception&) {
  }
  return run.dir.filename().string();
}

}  // namespace

std::string html_page(const std::vector<Run>& runs, const std::vector<Figure>& figures) {
  std::string title, body;
  // Two runs of one manifest share its name: their directories tell them apart.
  const bool same_name = runs.size() == 2 && run_title(runs[0]) == run_title(runs[1]);
  for (const auto& run : runs) title += (title.empty() ? "" : " vs ") + (same_name ? run.dir.lexically_normal().filename().string() : run_title(run));
  body = "<h1>" + escape_html(title) + "<small>mmdebias " + (runs.size() > 1 ? "comparison" : "run report") + "</small></h1>\n";
  if (runs.size() == 1) body += "<p class=sub><code>" + escape_html(runs[0].dir.string()) + "</code></p>\n";
  if (runs.size() == 1) {
    body += facts_html(runs) + "<h2>Final evaluation</h2>\n<div class=row><section>" + metrics_table(runs) + "</section><section>" +
            ood_table(runs[0]) + "</section></div>\n";
  } else {  // the two tables side by side where the window is wide enough
    body += "<div class=row><section><h2>Runs</h2>\n" + facts_html(runs) + "</section><section><h2>Final evaluation</h2>\n" +
            metrics_table(runs) + "</section></div>\n";
  }
  body += "<h2>Plots</h2>\n";
  if (runs.size() > 1) body += "<p class=note>Curves of run A are solid, of run B dashed; a metric keeps its colour in both.</p>\n";
  body += figure_grid(figures);
  if (runs.size() == 2) body += "<h2>Manifest differences</h2>\n" + manifest_differences(runs[0], runs[1]);
  body += "<h2>Plugin provenance</h2>\n<div class=cols>";
  for (const auto& run : runs) body += "<div>" + (run.label.empty() ? "" : "<h3>" + run.label + "</h3>") + provenance(run) + "</div>";
  body += "</div>\n<h2>Resolved manifests</h2>\n<div class=cols>";
  for (const auto& run : runs)
    body += "<details><summary>" + escape_html((run.label.empty() ? "" : run.label + ": ") + (run.dir / "resolved.yaml").string()) +
            "</summary><pre>" + escape_html(run.resolved_text) + "</pre></details>";
  body += "</div>\n";
  return html_document("mmdebias report: " + title, body);
}

}  // namespace report

ReportResult write_report(const std::vector<std::filesystem::path>& dirs, const std::filesystem::path& out) {
  if (dirs.empty() || dirs.size() > 2) throw InputError("mmdebias report takes one run directory, or two to compare");
  for (const auto& dir : dirs)
    if (is_sweep_directory(dir)) {
      if (dirs.size() > 1) throw InputError(dir.string() + " is a sweep directory: give it alone (mmdebias report SWEEP_DIR); two sweeps are not compared");
      return write_sweep_report(dir, out);
    }
  std::vector<report::Run> runs;
  for (size_t i = 0; i < dirs.size(); ++i) {
    runs.push_back(report::load_run(dirs[i]));
    if (dirs.size() > 1) runs.back().label = i == 0 ? "A" : "B";
  }
  std::vector<report::Figure> figures = report::draw(report::make_plots(runs));
  write_file_atomically(out, report::html_page(runs, figures));
  ReportResult result{out, {}};
  for (const auto& f : figures) result.figures.push_back(f.plot.id);
  return result;
}

}  // namespace mmdebias::core
