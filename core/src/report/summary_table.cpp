#include <cmath>
#include <cstdio>
#include <sstream>

#include "mmdebias/core/report.hpp"

namespace mmdebias::core {
namespace {

std::string number(const nlohmann::json& v, const char* format = "%.4f") {
  if (!v.is_number()) return "-";
  char text[32];
  std::snprintf(text, sizeof text, format, v.get<double>());
  return text;
}

void row(std::ostringstream& out, const std::string& name, const std::string& value) {
  out << "  " << name << std::string(name.size() < 28 ? 28 - name.size() : 1, ' ') << value << "\n";
}

}  // namespace

std::string summary_table(const nlohmann::json& summary) {
  std::ostringstream out;
  const nlohmann::json& eval = summary.contains("eval") ? summary["eval"] : summary;
  if (summary.contains("run")) out << "run " << summary["run"].get<std::string>() << "\n";
  if (summary.contains("steps"))
    out << "  " << summary["steps"] << " steps, " << number(summary["train"]["seconds"], "%.1f") << " s, "
        << number(summary["train"]["samples_per_s"], "%.0f") << " samples/s (data wait "
        << number(summary["train"]["data_wait_fraction"].get<double>() * 100, "%.1f") << "%)\n";
  out << "\nevaluation on '" << eval.value("split", "?") << "' (" << eval.value("count", 0) << " samples";
  if (eval.value("count_ood", 0) > 0) out << ", " << eval["count_ood"] << " OOD";
  out << ")\n";
  if (eval.contains("classification")) {
    const auto& c = eval["classification"];
    row(out, "accuracy", number(c["accuracy"]));
    row(out, "macro-F1", number(c["macro_f1"]));
    if (c.contains("worst_group_accuracy")) row(out, "worst-group accuracy", number(c["worst_group_accuracy"]));
  }
  if (eval.contains("factual")) {  // an intervention adjusted the predictions: the unadjusted model beside it
    const auto& c = eval["factual"]["classification"];
    row(out, "accuracy (factual)", number(c["accuracy"]));
    if (c.contains("worst_group_accuracy")) row(out, "worst-group accuracy (factual)", number(c["worst_group_accuracy"]));
  }
  if (eval.contains("per_modality_accuracy"))
    for (const auto& [m, acc] : eval["per_modality_accuracy"].items()) row(out, "accuracy (" + m + " alone)", number(acc));
  if (eval.contains("ood")) {
    out << "\n  OOD scorer          AUROC    FPR@95   AUPR-In  AUPR-Out\n";
    for (const auto& [name, o] : eval["ood"].items()) {
      char line[160];
      std::snprintf(line, sizeof line, "  %-18s %7s  %7s  %7s  %7s\n", name.c_str(), number(o["auroc"]).c_str(),
                    number(o["fpr_at_95tpr"]).c_str(), number(o["aupr_in"]).c_str(), number(o["aupr_out"]).c_str());
      out << line;
    }
  }
  if (summary.contains("params_sha256")) out << "\nparams_sha256 " << summary["params_sha256"].get<std::string>() << "\n";
  return out.str();
}

}  // namespace mmdebias::core
