// The report page: run facts, a metric table with a column per run, the figures, plugin provenance and the
// resolved manifests. Everything is inline (styles, SVG), so the file opens offline as it is.
#include <yaml-cpp/yaml.h>

#include <cstdio>

#include "common/atomic_file.hpp"
#include "mmdebias/core/errors.hpp"
#include "mmdebias/core/report.hpp"
#include "report/detail.hpp"

namespace mmdebias::core {
namespace report {
namespace {

const char* kStyle = R"(body{font-family:sans-serif;margin:2em auto;max-width:1500px;color:#222}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;font-size:.9em}
td.n{text-align:right;font-variant-numeric:tabular-nums}figure{display:inline-block;margin:.5em;vertical-align:top}
figcaption{font-size:.85em;color:#555;max-width:720px}pre{background:#f6f6f6;padding:.8em;overflow:auto;font-size:.8em}
.cols{display:grid;grid-template-columns:repeat(auto-fit,minmax(480px,1fr));gap:1em}code{font-size:.85em})";

std::string cell(const nlohmann::json& v) {
  if (v.is_number_float()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4f", v.get<double>());
    return std::string("<td class=n>") + buf + "</td>";
  }
  if (v.is_number()) return "<td class=n>" + v.dump() + "</td>";
  if (v.is_string()) return "<td>" + escape_html(v.get<std::string>()) + "</td>";
  return "<td>–</td>";
}

// The value at a '/'-separated path, or null.
nlohmann::json at_path(const nlohmann::json& j, const std::string& path) {
  nlohmann::json::json_pointer p("/" + path);
  return j.is_object() && j.contains(p) ? j[p] : nlohmann::json();
}

std::string header_row(const std::vector<Run>& runs, const std::string& first) {
  std::string s = "<tr><th>" + first + "</th>";
  for (const auto& run : runs) s += "<th>" + escape_html(run.label.empty() ? run.dir.filename().string() : run.label) + "</th>";
  return s + "</tr>\n";
}

std::string runs_table(const std::vector<Run>& runs) {
  const std::vector<std::pair<std::string, std::string>> rows = {
      {"directory", ""},          {"steps", "steps"},
      {"epochs", "epochs"},       {"training seconds", "train/seconds"},
      {"samples/s", "train/samples_per_s"}, {"share of time waiting for data", "train/data_wait_fraction"},
      {"processes", "world_size"}, {"device", "device"},
      {"params_sha256", "params_sha256"}};
  std::string s = "<table>\n" + header_row(runs, "run");
  for (const auto& [name, path] : rows) {
    s += "<tr><th>" + name + "</th>";
    for (const auto& run : runs) s += path.empty() ? "<td><code>" + escape_html(run.dir.string()) + "</code></td>" : cell(at_path(run.summary, path));
    s += "</tr>\n";
  }
  return s + "</table>\n";
}

std::string metrics_table(const std::vector<Run>& runs) {
  std::vector<std::pair<std::string, std::string>> rows = {{"accuracy", "classification/accuracy"},
                                                           {"macro-F1", "classification/macro_f1"},
                                                           {"worst-group accuracy", "classification/worst_group_accuracy"},
                                                           {"accuracy (factual)", "factual/classification/accuracy"}};
  std::vector<nlohmann::json> finals;
  for (const auto& run : runs) finals.push_back(final_eval(run));
  std::map<std::string, bool> modalities, scorers;  // ordered union over the runs
  for (const auto& f : finals) {
    const nlohmann::json per_modality = at_path(f, "per_modality_accuracy"), ood = at_path(f, "ood");  // alive while iterated
    for (const auto& kv : per_modality.items()) modalities[kv.key()] = true;
    for (const auto& kv : ood.items()) scorers[kv.key()] = true;
  }
  for (const auto& kv : modalities) rows.push_back({"accuracy (" + kv.first + " alone)", "per_modality_accuracy/" + kv.first});
  for (const auto& kv : scorers)
    for (const auto& [name, key] : std::vector<std::pair<std::string, std::string>>{
             {"AUROC", "auroc"}, {"FPR@95TPR", "fpr_at_95tpr"}, {"AUPR-In", "aupr_in"}, {"AUPR-Out", "aupr_out"}})
      rows.push_back({kv.first + " " + name, "ood/" + kv.first + "/" + key});
  std::string s = "<table id=metrics>\n" + header_row(runs, "final evaluation");
  for (const auto& [name, path] : rows) {
    bool any = false;
    for (const auto& f : finals) any = any || !at_path(f, path).is_null();
    if (!any) continue;  // e.g. no factual metrics when nothing adjusts predictions
    s += "<tr><th>" + escape_html(name) + "</th>";
    for (const auto& f : finals) s += cell(at_path(f, path));
    s += "</tr>\n";
  }
  return s + "</table>\n";
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
  std::string s = "<p>host " + escape_html(scalar(prov["host"]["version"])) + ", <code>" + escape_html(scalar(prov["host"]["fingerprint"])) + "</code></p>\n";
  s += "<table><tr><th>plugin</th><th>version</th><th>ABI</th><th>sha256</th><th>path</th></tr>\n";
  for (const auto& p : prov["plugins"])
    s += "<tr><td>" + escape_html(scalar(p.first)) + "</td><td>" + escape_html(scalar(p.second["version"])) + "</td><td>" +
         escape_html(scalar(p.second["abi"])) + "</td><td><code>" + escape_html(scalar(p.second["sha256"]).substr(0, 16)) +
         "…</code></td><td><code>" + escape_html(scalar(p.second["path"])) + "</code></td></tr>\n";
  return s + "</table>\n";
}

}  // namespace

std::string escape_html(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string html_page(const std::vector<Run>& runs, const std::vector<Figure>& figures) {
  std::string names;
  for (const auto& run : runs) names += (names.empty() ? "" : " vs ") + run.dir.filename().string();
  std::string s = "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8><title>mmdebias report: " + escape_html(names) +
                  "</title>\n<style>" + kStyle + "</style></head><body>\n<h1>mmdebias report: " + escape_html(names) + "</h1>\n";
  if (runs.size() > 1) s += "<p>Curves of run A are solid, of run B dashed; a metric keeps its colour in both.</p>\n";
  s += "<h2>Runs</h2>\n" + runs_table(runs) + "<h2>Metrics</h2>\n" + metrics_table(runs) + "<h2>Plots</h2>\n";
  for (const auto& f : figures)
    s += "<figure id=\"" + f.plot.id + "\">" + f.svg + "<figcaption>" + escape_html(f.plot.caption) + "</figcaption></figure>\n";
  s += "<h2>Plugin provenance</h2>\n<div class=cols>";
  for (const auto& run : runs) s += "<div>" + (run.label.empty() ? "" : "<h3>" + run.label + "</h3>") + provenance(run) + "</div>";
  s += "</div>\n<h2>Resolved manifests</h2>\n<div class=cols>";
  for (const auto& run : runs)
    s += "<details open><summary>" + escape_html((run.label.empty() ? "" : run.label + ": ") + (run.dir / "resolved.yaml").string()) +
         "</summary><pre>" + escape_html(run.resolved_text) + "</pre></details>";
  return s + "</div>\n</body></html>\n";
}

}  // namespace report

ReportResult write_report(const std::vector<std::filesystem::path>& dirs, const std::filesystem::path& out) {
  if (dirs.empty() || dirs.size() > 2) throw InputError("mmdebias report takes one run directory, or two to compare");
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
