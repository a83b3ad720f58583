#include "sweep/aggregate.hpp"

#include <cstdio>
#include <set>
#include <sstream>

#include "common/small_file.hpp"
#include "common/text.hpp"
#include "mmdebias/core/errors.hpp"
#include "sweep/stats.hpp"

namespace mmdebias::core {
namespace fs = std::filesystem;
namespace {

// Counts and bookkeeping, not results: the same in every run of a grid, or not comparable.
bool is_bookkeeping(const std::string& key) {
  static const std::set<std::string> keys = {"step", "count", "count_ood", "num_classes", "num_id", "num_ood", "support", "host"};
  return keys.count(key) > 0;
}

void flatten(const nlohmann::json& node, const std::string& prefix, std::map<std::string, double>& out) {
  if (node.is_number()) {
    out[prefix] = node.get<double>();
  } else if (node.is_object()) {
    for (const auto& kv : node.items())
      if (!is_bookkeeping(kv.key())) flatten(kv.value(), prefix + "." + kv.key(), out);
  }  // arrays (per-class scores, the confusion matrix) are not summarised over seeds
}

std::string number(double v) {
  char text[40];
  std::snprintf(text, sizeof text, "%.10g", v);
  return text;
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

// One metric's values of a configuration, by seed.
using BySeed = std::map<int64_t, double>;

nlohmann::json summary_json(const BySeed& by_seed, const char* values_key) {
  std::vector<double> values;
  std::vector<int64_t> seeds;
  for (const auto& [seed, v] : by_seed) {
    seeds.push_back(seed);
    values.push_back(v);
  }
  const SeedSummary s = summarise(values);
  nlohmann::json j = to_json(s);
  j["seeds"] = seeds;
  j[values_key] = values;
  j["excludes_zero"] = s.excludes_zero();
  return j;
}

std::string command_line(const std::vector<std::string>& words) {
  std::string line;
  for (const std::string& w : words) line += (line.empty() ? "" : " ") + shell_quote(w);
  return line;
}

nlohmann::json read_summary(const fs::path& file) {
  constexpr size_t kLargest = 64 << 20;
  try {
    return nlohmann::json::parse(read_small_file(file, kLargest));
  } catch (const nlohmann::json::exception& e) {
    throw InputError(file.string() + " is not valid JSON (" + e.what() + "); run that run again (delete its directory) or leave it out of the grid");
  }
}

}  // namespace

std::map<std::string, double> result_metrics(const nlohmann::json& summary) {
  std::map<std::string, double> out;
  if (summary.contains("eval")) flatten(summary["eval"], "eval", out);
  return out;
}

nlohmann::json aggregate_sweep(const SweepRequest& request, const std::vector<SweepConfig>& configs,
                               const std::vector<SweepRun>& runs, std::optional<size_t> baseline) {
  // metric -> seed -> value, per configuration; the timings apart (they vary from run to run of the same seed).
  std::vector<std::map<std::string, BySeed>> results(configs.size()), timings(configs.size());
  nlohmann::json run_lists = nlohmann::json::array();
  for (size_t c = 0; c < configs.size(); ++c) run_lists.push_back(nlohmann::json::array());
  for (const SweepRun& run : runs) {
    run_lists[run.config].push_back({{"seed", run.seed}, {"dir", run.dir.lexically_relative(request.out).string()}, {"status", run.status}});
    if (run.status != "finished") continue;
    const nlohmann::json summary = read_summary(run.dir / "summary.json");
    for (const auto& [name, v] : result_metrics(summary)) results[run.config][name][run.seed] = v;
    for (const char* key : {"seconds", "samples_per_s"})
      if (summary["train"].contains(key)) timings[run.config][std::string("train.") + key][run.seed] = summary["train"][key].get<double>();
  }
  nlohmann::json axes = nlohmann::json::array();
  for (const SweepAxis& a : request.grid.axes) axes.push_back({{"key", a.key}, {"values", a.values}});
  nlohmann::json fixed = nlohmann::json::array();
  for (const Override& o : request.grid.fixed) fixed.push_back(o.text);
  nlohmann::json sweep = {{"sweep", 1},
                          {"manifest", request.grid.manifest.string()},
                          {"command", command_line(request.command)},
                          {"fixed", fixed},
                          {"axes", axes},
                          {"seeds", request.grid.seeds},
                          {"baseline", baseline ? nlohmann::json(configs[*baseline].name) : nlohmann::json(nullptr)},
                          {"configs", nlohmann::json::array()}};
  for (size_t c = 0; c < configs.size(); ++c) {
    nlohmann::json overrides = nlohmann::json::object();
    for (const auto& [key, value] : configs[c].choices) overrides[key] = value;
    nlohmann::json config = {{"name", configs[c].name}, {"dir", configs[c].dir}, {"overrides", overrides}, {"runs", run_lists[c]}};
    config["metrics"] = nlohmann::json::object();
    for (const auto& [name, by_seed] : results[c]) config["metrics"][name] = summary_json(by_seed, "values");
    config["timing"] = nlohmann::json::object();
    for (const auto& [name, by_seed] : timings[c]) config["timing"][name] = summary_json(by_seed, "values");
    if (baseline && *baseline != c) {
      // Paired: the seeds both finished, this configuration's value minus the baseline's.
      config["vs_baseline"] = nlohmann::json::object();
      for (const auto& [name, by_seed] : results[c]) {
        auto base = results[*baseline].find(name);
        if (base == results[*baseline].end()) continue;
        BySeed diffs;
        for (const auto& [seed, v] : by_seed)
          if (base->second.count(seed)) diffs[seed] = v - base->second.at(seed);
        if (!diffs.empty()) config["vs_baseline"][name] = summary_json(diffs, "diffs");
      }
    }
    sweep["configs"].push_back(config);
  }
  return sweep;
}

std::string sweep_csv(const nlohmann::json& sweep) {
  std::ostringstream out;
  out << "config";
  for (const auto& axis : sweep["axes"]) out << "," << csv_field(axis["key"].get<std::string>());
  out << ",metric,n,mean,std,ci95_low,ci95_high,diff_n,diff_mean,diff_std,diff_ci95_low,diff_ci95_high\n";
  auto cell = [](const nlohmann::json& v) { return v.is_number() ? number(v.get<double>()) : std::string(); };
  auto stats = [&](const nlohmann::json& s) {
    const nlohmann::json& ci = s["ci95"];
    return "," + std::to_string(s["n"].get<int64_t>()) + "," + cell(s["mean"]) + "," + cell(s["std"]) + "," +
           (ci.is_array() ? cell(ci[0]) + "," + cell(ci[1]) : std::string(","));
  };
  for (const auto& config : sweep["configs"]) {
    for (const auto& [metric, s] : config["metrics"].items()) {
      out << csv_field(config["name"].get<std::string>());
      for (const auto& axis : sweep["axes"]) out << "," << csv_field(config["overrides"][axis["key"].get<std::string>()].get<std::string>());
      out << "," << csv_field(metric) << stats(s);
      if (config.contains("vs_baseline") && config["vs_baseline"].contains(metric))
        out << stats(config["vs_baseline"][metric]);
      else
        out << ",,,,,";
      out << "\n";
    }
  }
  return out.str();
}

std::string sweep_table(const nlohmann::json& sweep) {
  auto main_metric = [](const std::string& m) {
    return m.rfind("eval.classification.", 0) == 0 ? m.find('.', 20) == std::string::npos
                                                    : m.rfind("eval.ood.", 0) == 0 && m.size() > 6 && m.compare(m.size() - 6, 6, ".auroc") == 0;
  };
  std::set<std::string> metrics;
  for (const auto& config : sweep["configs"])
    for (const auto& kv : config["metrics"].items())
      if (main_metric(kv.key())) metrics.insert(kv.key());
  size_t width = 12;
  for (const auto& config : sweep["configs"]) width = std::max(width, config["name"].get<std::string>().size() + 2);
  auto fixed = [](double v, bool sign) {
    char text[32];
    std::snprintf(text, sizeof text, sign ? "%+.4f" : "%.4f", v);
    return std::string(text);
  };
  std::ostringstream out;
  const std::string baseline = sweep["baseline"].is_string() ? sweep["baseline"].get<std::string>() : "";
  for (const std::string& metric : metrics) {
    out << metric.substr(5) << "  (mean ± std over seeds [95% interval]" << (baseline.empty() ? "" : "; paired difference vs the baseline") << ")\n";
    for (const auto& config : sweep["configs"]) {
      const std::string name = config["name"];
      out << "  " << name << std::string(width - name.size(), ' ');
      if (!config["metrics"].contains(metric)) {
        out << "-\n";
        continue;
      }
      const nlohmann::json& s = config["metrics"][metric];
      out << fixed(s["mean"].get<double>(), false);
      if (s["std"].is_number()) out << " ± " << fixed(s["std"].get<double>(), false) << " [" << fixed(s["ci95"][0], false) << ", " << fixed(s["ci95"][1], false) << "]";
      out << "  n=" << s["n"].get<int64_t>();
      if (name == baseline) out << "  (baseline)";
      if (config.contains("vs_baseline") && config["vs_baseline"].contains(metric)) {
        const nlohmann::json& d = config["vs_baseline"][metric];
        out << "  " << fixed(d["mean"].get<double>(), true);
        if (d["ci95"].is_array()) out << " [" << fixed(d["ci95"][0], true) << ", " << fixed(d["ci95"][1], true) << "]";
        if (d["excludes_zero"].get<bool>()) out << " *";
      }
      out << "\n";
    }
  }
  if (!baseline.empty()) out << "* the paired 95% interval excludes 0\n";
  return out.str();
}

}  // namespace mmdebias::core
