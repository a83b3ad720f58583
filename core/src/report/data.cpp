// Reading a run directory for the report: metrics.jsonl, summary.json, resolved.yaml and the per-sample
// scores of the final evaluation.
#include <fstream>
#include <sstream>

#include "common/small_file.hpp"
#include "eval/eval_samples.hpp"
#include "mmdebias/core/errors.hpp"
#include "report/detail.hpp"

namespace mmdebias::core::report {
namespace fs = std::filesystem;
namespace {

// A line that does not parse (a run killed mid-write leaves a partial last line) is skipped, not fatal.
void read_metrics(const fs::path& file, Run& run) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) continue;
    if (j.value("type", "") == "train") run.train.push_back(std::move(j));
    else if (j.value("type", "") == "eval") run.evals.push_back(std::move(j));
  }
}

std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> cells;
  std::stringstream in(line);
  std::string cell;
  while (std::getline(in, cell, ',')) cells.push_back(cell);
  return cells;
}

void read_samples(const fs::path& file, Samples& samples) {
  std::ifstream in(file);
  std::string line;
  if (!std::getline(in, line)) return;
  std::vector<std::string> header = split_csv(line);
  if (header.size() < 3 || header[0] != "ood") throw InputError(file.string() + " is not a per-sample scores file (its header is '" + line + "')");
  std::vector<std::vector<double>*> columns;
  for (size_t c = 3; c < header.size(); ++c) columns.push_back(&samples.scores[header[c]]);
  int64_t row = 1;
  while (std::getline(in, line)) {
    ++row;
    std::vector<std::string> cells = split_csv(line);
    if (cells.size() != header.size()) throw InputError(file.string() + ":" + std::to_string(row) + ": expected " +
                                                        std::to_string(header.size()) + " columns, found " + std::to_string(cells.size()));
    samples.ood.push_back(cells[0] == "1" ? 1 : 0);
    for (size_t c = 3; c < cells.size(); ++c) columns[c - 3]->push_back(std::strtod(cells[c].c_str(), nullptr));
  }
}

}  // namespace

Run load_run(const fs::path& dir) {
  if (!fs::is_directory(dir)) throw InputError(dir.string() + " is not a directory (give a run directory made by `mmdebias run`)");
  if (!fs::exists(dir / "resolved.yaml") || !fs::exists(dir / "metrics.jsonl"))
    throw InputError(dir.string() + " is not a run directory: it has no resolved.yaml and metrics.jsonl (give a directory made by `mmdebias run`); "
                     "nor a sweep directory: it has no " + (dir / "sweep.json").string() + " (written by `mmdebias sweep`)");
  Run run;
  run.dir = dir;
  run.resolved_text = read_text_file(dir / "resolved.yaml");
  read_metrics(dir / "metrics.jsonl", run);
  if (fs::exists(dir / "summary.json")) {
    run.summary = nlohmann::json::parse(read_text_file(dir / "summary.json"), nullptr, false);
    if (run.summary.is_discarded()) throw InputError((dir / "summary.json").string() + " is not valid JSON");
  }
  nlohmann::json last = final_eval(run);
  const std::string split = last.is_object() ? last.value("split", "test") : "test";
  if (fs::exists(dir / sample_scores_file(split))) read_samples(dir / sample_scores_file(split), run.samples);
  return run;
}

nlohmann::json final_eval(const Run& run) {
  if (run.summary.is_object() && run.summary.contains("eval")) return run.summary["eval"];
  if (!run.evals.empty()) return run.evals.back();
  return nullptr;
}

}  // namespace mmdebias::core::report
