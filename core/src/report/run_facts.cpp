// The head of a run report: what the run was (its name, data, model, methods, device, size, speed, digest,
// host build), read from resolved.yaml and summary.json; for two runs a table that marks what differs, and
// the manifest keys whose values differ.
#include <yaml-cpp/yaml.h>

#include "report/detail.hpp"
#include "report/format.hpp"

namespace mmdebias::core::report {
namespace fs = std::filesystem;
namespace {

std::string scalar(const YAML::Node& n) { return n && n.IsScalar() ? n.as<std::string>() : ""; }

// "type (name)" for each component of a list section, or "none".
std::string components(const YAML::Node& list) {
  std::string s;
  if (list && list.IsSequence())
    for (const auto& c : list) {
      std::string name = scalar(c["name"]), type = scalar(c["type"]);
      // The name only where it says more than the type ("std.msp" is named "msp" unless the manifest says otherwise).
      const bool implied = name.empty() || name == type || name == type.substr(type.find('.') + 1);
      s += (s.empty() ? "" : ", ") + type + (implied ? "" : " (" + name + ")");
    }
  return s.empty() ? "none" : s;
}

std::string model_text(const YAML::Node& model) {
  std::string s;
  if (model && model["encoders"] && model["encoders"].IsMap())
    for (const auto& e : model["encoders"]) s += (s.empty() ? "" : ", ") + scalar(e.first) + ": " + scalar(e.second["type"]);
  const std::string fusion = model ? scalar(model["fusion"]["type"]) : "";
  return s + (fusion.empty() ? "" : " → " + fusion);
}

std::string plural(int64_t n, const std::string& one) { return thousands(n) + " " + one + (n == 1 ? "" : "s"); }

std::string number_at(const nlohmann::json& j, const nlohmann::json::json_pointer& p, Unit unit) {
  return j.is_object() && j.contains(p) && j[p].is_number() ? format_value(j[p].get<double>(), unit) : "";
}

// Checkpoint files and their size: what the run keeps on disk.
std::string checkpoints(const fs::path& dir) {
  std::error_code ec;
  int64_t files = 0;
  double bytes = 0;
  for (fs::directory_iterator it(dir / "checkpoints", ec), end; !ec && it != end; it.increment(ec))
    if (it->path().extension() == ".pt" && it->is_regular_file(ec)) ++files, bytes += static_cast<double>(it->file_size(ec));
  return files ? plural(files, "file") + ", " + format_value(bytes, Unit::Bytes) : "none";
}

std::vector<Fact> facts_of(const Run& run) {
  YAML::Node doc;
  try {
    doc = YAML::Load(run.resolved_text);
  } catch (const YAML::Exception&) {
    doc = YAML::Node();  // shown as blanks: the resolved manifest below says why
  }
  const nlohmann::json& s = run.summary;
  using P = nlohmann::json::json_pointer;
  std::vector<Fact> f;
  const YAML::Node r = doc["run"], t = doc["train"];
  f.push_back({"run", scalar(r["name"]) + (scalar(r["seed"]).empty() ? "" : ", seed " + scalar(r["seed"])), ""});
  f.push_back({"status", s.is_object() ? "finished" : "not finished (no summary.json)", ""});
  f.push_back({"dataset", scalar(doc["data"]["type"]), ""});
  f.push_back({"model", model_text(doc["model"]), ""});
  f.push_back({"estimators", components(doc["estimators"]), ""});
  f.push_back({"interventions", components(doc["interventions"]), ""});
  f.push_back({"OOD scorers", components(doc["eval"]["scorers"]), ""});
  std::string optimizer = scalar(t["optimizer"]);
  if (!scalar(t["lr"]).empty()) optimizer += ", lr " + scalar(t["lr"]);
  if (!scalar(t["batch_size"]).empty()) optimizer += ", batch " + scalar(t["batch_size"]);
  f.push_back({"optimizer", optimizer, ""});
  if (s.is_object()) {
    f.push_back({"steps", plural(s.value("steps", 0), "step") + " · " + plural(s.value("epochs", 0), "epoch") + " · " +
                              plural(s.value("samples", 0), "sample"), ""});
    f.push_back({"training time", number_at(s, P("/train/seconds"), Unit::Seconds) + " · " + number_at(s, P("/train/samples_per_s"), Unit::Rate), ""});
    f.push_back({"data wait", number_at(s, P("/train/data_wait_fraction"), Unit::Fraction) + " of training time", ""});
    const std::string precision = s.contains(P("/train/precision")) ? s[P("/train/precision")].get<std::string>() : scalar(r["precision"]);
    f.push_back({"device", s.value("device", "") + " · " + precision + " · " + plural(s.value("threads", 0), "thread") + " · " +
                               thousands(s.value("world_size", 1)) + (s.value("world_size", 1) == 1 ? " process" : " processes"), ""});
    const std::string digest = s.value("params_sha256", "");
    f.push_back({"params sha256", digest.substr(0, 16) + (digest.size() > 16 ? "…" : ""), digest});
  } else {
    f.push_back({"device", scalar(r["device"]) + " · " + scalar(r["precision"]), ""});
  }
  f.push_back({"checkpoints", checkpoints(run.dir), ""});
  // No commit is recorded: the host's version and build fingerprint are what resolved.yaml keeps.
  const YAML::Node host = doc["provenance"]["host"];
  f.push_back({"mmdebias", scalar(host["version"]), scalar(host["fingerprint"])});
  return f;
}

// Every scalar of a YAML tree under its dotted path (sequence items by index), provenance left out.
void flatten(const YAML::Node& n, const std::string& path, std::map<std::string, std::string>& out) {
  if (n.IsMap()) {
    for (const auto& kv : n) {
      const std::string key = scalar(kv.first);
      if (path.empty() && key == "provenance") continue;  // plugin paths and digests: shown in their own table
      flatten(kv.second, path.empty() ? key : path + "." + key, out);
    }
  } else if (n.IsSequence()) {
    if (n.size() == 0) out[path] = "[]";
    for (size_t i = 0; i < n.size(); ++i) flatten(n[i], path + "." + std::to_string(i), out);
  } else {
    out[path] = n.IsNull() ? "null" : scalar(n);
  }
}

std::map<std::string, std::string> flat_config(const Run& run) {
  std::map<std::string, std::string> out;
  try {
    flatten(YAML::Load(run.resolved_text), "", out);
  } catch (const YAML::Exception&) {
  }
  return out;
}

}  // namespace

std::vector<Fact> run_facts(const Run& run) { return facts_of(run); }

std::string facts_html(const std::vector<Run>& runs) {
  if (runs.size() == 1) {
    std::string s = "<dl class=facts>\n";
    for (const auto& f : facts_of(runs[0]))
      s += "<div><dt>" + escape_html(f.label) + "</dt><dd" + (f.title.empty() ? "" : " title=\"" + escape_html(f.title) + "\"") + ">" +
           escape_html(f.value.empty() ? "–" : f.value) + "</dd></div>\n";
    return s + "</dl>\n";
  }
  std::vector<std::vector<Fact>> facts;
  for (const auto& run : runs) facts.push_back(facts_of(run));
  std::string s = "<table class=facts-table><thead><tr><th></th>";
  for (const auto& run : runs) s += "<th>" + escape_html(run.label) + ": <code>" + escape_html(run.dir.string()) + "</code></th>";
  s += "</tr></thead><tbody>\n";
  for (size_t i = 0; i < facts[0].size(); ++i) {
    bool differs = false;
    for (const auto& f : facts) differs = differs || i >= f.size() || f[i].value != facts[0][i].value;
    s += std::string(differs ? "<tr class=diff>" : "<tr>") + "<th>" + escape_html(facts[0][i].label) + "</th>";
    for (const auto& f : facts) s += "<td>" + escape_html(i < f.size() && !f[i].value.empty() ? f[i].value : "–") + "</td>";
    s += "</tr>\n";
  }
  return s + "</tbody></table>\n<p class=note>Highlighted rows differ between the runs.</p>\n";
}

std::string manifest_differences(const Run& a, const Run& b) {
  const auto fa = flat_config(a), fb = flat_config(b);
  std::map<std::string, std::pair<std::string, std::string>> diff;
  for (const auto& [k, v] : fa)
    if (!fb.count(k) || fb.at(k) != v) diff[k] = {v, fb.count(k) ? fb.at(k) : "(absent)"};
  for (const auto& [k, v] : fb)
    if (!fa.count(k)) diff[k] = {"(absent)", v};
  if (diff.empty()) return "<p>The resolved manifests are equal (provenance aside).</p>\n";
  std::string s = "<table id=manifest-diff><thead><tr><th>key</th><th>A</th><th>B</th></tr></thead><tbody>\n";
  for (const auto& [k, v] : diff)
    s += "<tr><td><code>" + escape_html(k) + "</code></td><td><code>" + escape_html(v.first) + "</code></td><td><code>" +
         escape_html(v.second) + "</code></td></tr>\n";
  return s + "</tbody></table>\n";
}

}  // namespace mmdebias::core::report
