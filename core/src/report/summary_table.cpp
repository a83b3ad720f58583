// The table `run`, `demo` and `eval` print: the run's size and speed, then the final evaluation, every number
// written as the HTML report writes it (report/format).
#include <cstdio>
#include <sstream>

#include "mmdebias/core/report.hpp"
#include "report/format.hpp"

namespace mmdebias::core {
namespace {

using report::Unit;

std::string value(const nlohmann::json& v, Unit unit) { return v.is_number() ? report::format_value(v.get<double>(), unit) : "-"; }

void row(std::ostringstream& out, const std::string& name, const std::string& text) {
  out << "  " << name << std::string(name.size() < 30 ? 30 - name.size() : 1, ' ') << text << "\n";
}

}  // namespace

std::string summary_table(const nlohmann::json& summary) {
  std::ostringstream out;
  const nlohmann::json& eval = summary.contains("eval") ? summary["eval"] : summary;
  if (summary.contains("run")) out << "run " << summary["run"].get<std::string>() << "\n";
  if (summary.contains("steps")) {
    const nlohmann::json& train = summary["train"];
    out << "  " << value(summary["steps"], Unit::Count) << " steps, " << value(train["seconds"], Unit::Seconds) << ", "
        << value(train["samples_per_s"], Unit::Rate) << " (data wait " << value(train["data_wait_fraction"], Unit::Fraction) << ")\n";
  }
  out << "\nevaluation on '" << eval.value("split", "?") << "' (" << report::thousands(eval.value("count", 0)) << " samples";
  if (eval.value("count_ood", 0) > 0) out << ", " << report::thousands(eval.value("count_ood", 0)) << " OOD";
  out << ")\n";
  if (eval.contains("classification")) {
    const auto& c = eval["classification"];
    row(out, "accuracy", value(c["accuracy"], Unit::Fraction));
    row(out, "macro-F1", value(c["macro_f1"], Unit::Fraction));
    if (c.contains("worst_group_accuracy")) row(out, "worst-group accuracy", value(c["worst_group_accuracy"], Unit::Fraction));
  }
  if (eval.contains("factual")) {  // an intervention adjusted the predictions: the unadjusted model beside it
    const auto& c = eval["factual"]["classification"];
    row(out, "accuracy (factual)", value(c["accuracy"], Unit::Fraction));
    if (c.contains("worst_group_accuracy")) row(out, "worst-group accuracy (factual)", value(c["worst_group_accuracy"], Unit::Fraction));
  }
  if (eval.contains("per_modality_accuracy"))
    for (const auto& [m, acc] : eval["per_modality_accuracy"].items()) row(out, "accuracy (" + m + " alone)", value(acc, Unit::Fraction));
  if (eval.contains("ood")) {
    out << "\n  OOD scorer            AUROC    FPR@95   AUPR-In  AUPR-Out\n";
    for (const auto& [name, o] : eval["ood"].items()) {
      char line[200];
      std::snprintf(line, sizeof line, "  %-18s %8s  %8s  %8s  %8s\n", name.c_str(), value(o["auroc"], Unit::Fraction).c_str(),
                    value(o["fpr_at_95tpr"], Unit::Fraction).c_str(), value(o["aupr_in"], Unit::Fraction).c_str(),
                    value(o["aupr_out"], Unit::Fraction).c_str());
      out << line;
    }
  }
  if (summary.contains("params_sha256")) out << "\nparams_sha256 " << summary["params_sha256"].get<std::string>() << "\n";
  return out.str();
}

}  // namespace mmdebias::core
