// Reading sweep.json (written by `mmdebias sweep`): every field checked, so that a hand-edited or truncated
// file is refused naming the file, the field and what it should hold, never shown half.
#include <algorithm>

#include "common/small_file.hpp"
#include "common/text.hpp"
#include "mmdebias/core/errors.hpp"
#include "report/format.hpp"
#include "report/sweep.hpp"

namespace mmdebias::core::report {
namespace fs = std::filesystem;
using nlohmann::json;
namespace {

constexpr size_t kMaxSweepFile = 64u << 20;  // thousands of runs' values fit many times over

// Checks one file's fields, each error naming the file and the field's path ("configs[2].runs[0].seed").
class Reader {
 public:
  explicit Reader(fs::path file) : file_(std::move(file)) {}

  [[noreturn]] void fail(const std::string& where, const std::string& expected, const json& found) const {
    const std::string kind = found.is_string() ? "the string " + excerpt(found.dump(), 40)
                             : found.is_array() ? "an array of " + std::to_string(found.size())
                             : found.is_object() ? "an object" : excerpt(found.dump(), 40);
    throw InputError(file_.string() + ": " + where + " should be " + expected + ", it is " + kind +
                     " (sweep.json is written by `mmdebias sweep`; docs/running.md describes it)");
  }
  const json& field(const json& obj, const std::string& where, const std::string& key, const std::string& expected) const {
    if (!obj.contains(key)) throw InputError(file_.string() + ": " + where + " lacks \"" + key + "\" (" + expected + ")");
    return obj.at(key);
  }
  std::string text(const json& j, const std::string& where) const {
    if (j.is_string()) return j.get<std::string>();
    if (j.is_number()) return j.dump();  // an axis value written as a number reads as its text
    fail(where, "a string", j);
  }
  double number(const json& j, const std::string& where) const {
    if (!j.is_number()) fail(where, "a number", j);
    return j.get<double>();
  }
  int64_t integer(const json& j, const std::string& where) const {
    if (!j.is_number_integer()) fail(where, "an integer", j);
    return j.get<int64_t>();
  }
  const json& array(const json& j, const std::string& where) const {
    if (!j.is_array()) fail(where, "an array", j);
    return j;
  }
  const json& object(const json& j, const std::string& where) const {
    if (!j.is_object()) fail(where, "an object", j);
    return j;
  }
  std::optional<double> optional_number(const json& obj, const std::string& where, const std::string& key) const {
    if (!obj.contains(key) || obj[key].is_null()) return std::nullopt;
    return number(obj[key], where + "." + key);
  }

  Stat stat(const json& j, const std::string& where, const char* values_key) const {
    object(j, where);
    Stat s;
    s.n = integer(field(j, where, "n", "the number of runs with a value"), where + ".n");
    s.mean = optional_number(j, where, "mean");
    s.std = optional_number(j, where, "std");
    if (j.contains("ci95") && !j["ci95"].is_null()) {
      const json& ci = j["ci95"];
      if (!ci.is_array() || ci.size() != 2) fail(where + ".ci95", "[low, high] or null", ci);
      s.ci95 = std::make_pair(number(ci[0], where + ".ci95[0]"), number(ci[1], where + ".ci95[1]"));
    }
    if (j.contains(values_key)) {
      const json& values = array(j[values_key], where + "." + values_key);
      for (size_t i = 0; i < values.size(); ++i) s.values.push_back(number(values[i], where + "." + values_key + "[" + std::to_string(i) + "]"));
    }
    if (s.n > 0 && !s.mean) fail(where + ".mean", "a number (n is " + std::to_string(s.n) + ")", j.value("mean", json()));
    return s;
  }

  SweepConfig config(const json& j, const std::string& where) const {
    object(j, where);
    SweepConfig c;
    c.name = text(field(j, where, "name", "the configuration's name"), where + ".name");
    c.dir = text(field(j, where, "dir", "its directory, relative to the sweep's"), where + ".dir");
    if (j.contains("overrides"))
      for (const auto& [k, v] : object(j["overrides"], where + ".overrides").items()) c.overrides.emplace_back(k, text(v, where + ".overrides." + k));
    const json& runs = array(field(j, where, "runs", "its runs, one per seed"), where + ".runs");
    for (size_t i = 0; i < runs.size(); ++i) {
      const std::string w = where + ".runs[" + std::to_string(i) + "]";
      object(runs[i], w);
      SweepRun r{integer(field(runs[i], w, "seed", "an integer"), w + ".seed"), text(field(runs[i], w, "dir", "a directory"), w + ".dir"),
                 text(field(runs[i], w, "status", "finished, failed or missing"), w + ".status")};
      if (r.status != "finished" && r.status != "failed" && r.status != "missing") fail(w + ".status", "\"finished\", \"failed\" or \"missing\"", runs[i]["status"]);
      c.runs.push_back(r);
    }
    for (const auto& [m, s] : object(field(j, where, "metrics", "an object of metric -> statistics"), where + ".metrics").items())
      c.metrics[m] = stat(s, where + ".metrics." + m, "values");
    // Timings (train.seconds, train.samples_per_s) are kept apart in sweep.json: they vary between two runs of a seed.
    if (j.contains("timing") && !j["timing"].is_null())
      for (const auto& [m, s] : object(j["timing"], where + ".timing").items()) c.metrics[m] = stat(s, where + ".timing." + m, "values");
    if (j.contains("vs_baseline") && !j["vs_baseline"].is_null())
      for (const auto& [m, s] : object(j["vs_baseline"], where + ".vs_baseline").items()) c.vs_baseline[m] = stat(s, where + ".vs_baseline." + m, "diffs");
    return c;
  }

 private:
  fs::path file_;
};

// Groups in reading order: classification first, then per modality, OOD detection, anything else, training.
int group_rank(const std::string& group) {
  if (group == "eval.classification") return 0;
  if (group.rfind("eval.factual", 0) == 0) return 1;
  if (group == "eval.per_modality_accuracy") return 2;
  if (group.rfind("eval.ood", 0) == 0) return 3;
  if (group.rfind("train", 0) == 0) return 5;
  return 4;
}

int leaf_rank(const std::string& metric) {
  static const std::vector<std::string> order = {"accuracy", "macro_f1", "worst_group_accuracy", "auroc", "fpr_at_95tpr",
                                                 "aupr_in", "aupr_out", "samples_per_s", "seconds", "data_wait_fraction"};
  const std::string leaf = metric.substr(metric.find_last_of('.') + 1);
  auto it = std::find(order.begin(), order.end(), leaf);
  return static_cast<int>(it - order.begin());
}

// Counts (samples, classes) and bookkeeping (the step, the host's batch counters) are the same in every run
// of a sweep: not results to compare.
bool shown(const std::string& metric) {
  const std::string leaf = metric.substr(metric.find_last_of('.') + 1);
  return metric_kind(metric).unit != Unit::Count && leaf != "step" && metric.rfind("eval.host.", 0) != 0;
}

}  // namespace

std::string metric_group(const std::string& metric) {
  const size_t cut = metric.find_last_of('.');
  return cut == std::string::npos ? "" : metric.substr(0, cut);
}

std::string group_heading(const std::string& group) {
  if (group == "eval.classification") return "Classification";
  if (group == "eval.factual.classification") return "Classification of the unadjusted (factual) predictions";
  if (group == "eval.per_modality_accuracy") return "Accuracy of each modality alone";
  if (group.rfind("eval.ood.", 0) == 0) return "OOD detection: " + group.substr(9);
  if (group == "train") return "Training";
  return group.rfind("eval.", 0) == 0 ? group.substr(5) : group;
}

Sweep load_sweep(const fs::path& dir) {
  const fs::path file = dir / "sweep.json";
  if (!fs::exists(file))
    throw InputError(dir.string() + " holds no sweep.json: give a sweep directory made by `mmdebias sweep` (or a run directory)");
  json j = json::parse(read_small_file(file, kMaxSweepFile), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw InputError(file.string() + " is not valid JSON (expected the object `mmdebias sweep` writes)");
  Reader r(file);
  r.object(j, "the document");
  const int64_t version = r.integer(r.field(j, "the document", "sweep", "the format version, 1"), "sweep");
  if (version != 1) throw InputError(file.string() + ": format version " + std::to_string(version) + " is not one this mmdebias reads (1)");
  Sweep s;
  s.dir = dir;
  s.manifest = j.contains("manifest") ? r.text(j["manifest"], "manifest") : "";
  s.command = j.contains("command") ? r.text(j["command"], "command") : "";
  const json& axes = r.array(r.field(j, "the document", "axes", "the grid's axes"), "axes");
  for (size_t i = 0; i < axes.size(); ++i) {
    const std::string w = "axes[" + std::to_string(i) + "]";
    r.object(axes[i], w);
    SweepAxis a{r.text(r.field(axes[i], w, "key", "the overridden key"), w + ".key"), {}};
    const json& values = r.array(r.field(axes[i], w, "values", "the key's values"), w + ".values");
    for (size_t v = 0; v < values.size(); ++v) a.values.push_back(r.text(values[v], w + ".values[" + std::to_string(v) + "]"));
    s.axes.push_back(std::move(a));
  }
  const json& seeds = r.array(r.field(j, "the document", "seeds", "the seeds of every configuration"), "seeds");
  for (size_t i = 0; i < seeds.size(); ++i) s.seeds.push_back(r.integer(seeds[i], "seeds[" + std::to_string(i) + "]"));
  if (j.contains("baseline") && !j["baseline"].is_null()) s.baseline = r.text(j["baseline"], "baseline");
  const json& configs = r.array(r.field(j, "the document", "configs", "the configurations"), "configs");
  if (configs.empty()) throw InputError(file.string() + ": configs is empty (a sweep has at least one configuration)");
  for (size_t i = 0; i < configs.size(); ++i) s.configs.push_back(r.config(configs[i], "configs[" + std::to_string(i) + "]"));
  if (s.baseline && std::none_of(s.configs.begin(), s.configs.end(), [&](const SweepConfig& c) { return c.name == *s.baseline; }))
    throw InputError(file.string() + ": baseline \"" + *s.baseline + "\" names no configuration in configs");
  std::vector<std::string> metrics;
  for (const auto& c : s.configs)
    for (const auto& kv : c.metrics)
      if (shown(kv.first) && std::find(metrics.begin(), metrics.end(), kv.first) == metrics.end()) metrics.push_back(kv.first);
  std::stable_sort(metrics.begin(), metrics.end(), [](const std::string& a, const std::string& b) {
    const std::string ga = metric_group(a), gb = metric_group(b);
    if (group_rank(ga) != group_rank(gb)) return group_rank(ga) < group_rank(gb);
    if (ga != gb) return ga < gb;
    if (leaf_rank(a) != leaf_rank(b)) return leaf_rank(a) < leaf_rank(b);
    return a < b;
  });
  s.metrics = std::move(metrics);
  return s;
}

}  // namespace mmdebias::core::report
