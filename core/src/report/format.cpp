// Numbers for people: units, significant digits, thousands separators, signed differences.
#include "report/format.hpp"

#include <cmath>
#include <cstdio>
#include <map>

namespace mmdebias::core::report {
namespace {

// The last part of a dotted or '/'-separated path, and the part before it.
std::pair<std::string, std::string> leaf_and_parent(const std::string& path) {
  const size_t cut = path.find_last_of("./");
  if (cut == std::string::npos) return {path, ""};
  const std::string parent_path = path.substr(0, cut);
  const size_t cut2 = parent_path.find_last_of("./");
  return {path.substr(cut + 1), cut2 == std::string::npos ? parent_path : parent_path.substr(cut2 + 1)};
}

std::string printf_double(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

// Percent with two decimals: differences between methods are often a fraction of a point.
std::string percent_bare(double v) { return printf_double("%.2f", v * 100); }

}  // namespace

MetricKind metric_kind(const std::string& path) {
  static const std::map<std::string, MetricKind> kinds = {
      {"accuracy", {Unit::Fraction, Better::Higher}},     {"worst_group_accuracy", {Unit::Fraction, Better::Higher}},
      {"macro_f1", {Unit::Fraction, Better::Higher}},     {"f1", {Unit::Fraction, Better::Higher}},
      {"precision", {Unit::Fraction, Better::Higher}},    {"recall", {Unit::Fraction, Better::Higher}},
      {"auroc", {Unit::Fraction, Better::Higher}},        {"aupr_in", {Unit::Fraction, Better::Higher}},
      {"aupr_out", {Unit::Fraction, Better::Higher}},     {"fpr_at_95tpr", {Unit::Fraction, Better::Lower}},
      {"data_wait_fraction", {Unit::Fraction, Better::Lower}}, {"seconds", {Unit::Seconds, Better::Lower}},
      {"samples_per_s", {Unit::Rate, Better::Higher}},    {"loss", {Unit::Plain, Better::Lower}},
      {"steps", {Unit::Count, Better::Neither}},          {"epochs", {Unit::Count, Better::Neither}},
      {"samples", {Unit::Count, Better::Neither}},        {"count", {Unit::Count, Better::Neither}},
      {"count_ood", {Unit::Count, Better::Neither}},      {"num_id", {Unit::Count, Better::Neither}},
      {"num_ood", {Unit::Count, Better::Neither}},        {"support", {Unit::Count, Better::Neither}},
      {"num_classes", {Unit::Count, Better::Neither}},    {"skipped_steps", {Unit::Count, Better::Lower}},
      {"batches", {Unit::Count, Better::Neither}},        {"model_forward_calls", {Unit::Count, Better::Neither}}};
  const auto [leaf, parent] = leaf_and_parent(path);
  if (parent == "per_modality_accuracy") return {Unit::Fraction, Better::Higher};
  auto it = kinds.find(leaf);
  return it == kinds.end() ? MetricKind{} : it->second;
}

std::string metric_label(const std::string& path) {
  static const std::map<std::string, std::string> labels = {
      {"accuracy", "accuracy"},          {"macro_f1", "macro-F1"},       {"worst_group_accuracy", "worst-group accuracy"},
      {"auroc", "AUROC"},                {"fpr_at_95tpr", "FPR@95TPR"},  {"aupr_in", "AUPR-In"},
      {"aupr_out", "AUPR-Out"},          {"samples_per_s", "samples/s"}, {"seconds", "training time"},
      {"data_wait_fraction", "data wait"}, {"count", "samples"},         {"count_ood", "OOD samples"},
      {"num_id", "in-distribution samples"}, {"num_ood", "OOD samples"}};
  // A component's metric is named by its whole path ("estimators.<name>/weight/m0"): its leaf alone repeats.
  const std::string components = "eval.components.";
  if (path.rfind(components, 0) == 0) return path.substr(components.size());
  const auto [leaf, parent] = leaf_and_parent(path);
  if (parent == "per_modality_accuracy") return leaf + " alone";
  auto it = labels.find(leaf);
  return it == labels.end() ? leaf : it->second;
}

std::string thousands(int64_t v) {
  std::string digits = std::to_string(v < 0 ? -v : v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return (v < 0 ? "-" : "") + out;
}

std::string significant(double v, int digits) {
  if (!std::isfinite(v)) return "n/a";
  const double a = std::fabs(v);
  if (a >= 1e15) return printf_double("%.3e", v);
  if (a >= 1000) return thousands(static_cast<int64_t>(std::llround(v)));
  if (a != 0 && a < 1e-3) {  // exponent, without the noise of a zero-padded "e-05"
    std::string s = printf_double(("%." + std::to_string(digits - 1) + "e").c_str(), v);
    const size_t e = s.find('e');
    std::string mantissa = s.substr(0, e), exponent = s.substr(e + 1);
    while (mantissa.find('.') != std::string::npos && (mantissa.back() == '0' || mantissa.back() == '.')) mantissa.pop_back();
    const int power = std::stoi(exponent);
    return mantissa + "e" + std::to_string(power);
  }
  return printf_double(("%." + std::to_string(digits) + "g").c_str(), v);
}

std::string format_bare(double v, Unit unit) {
  if (!std::isfinite(v)) return "n/a";
  switch (unit) {
    case Unit::Fraction: return percent_bare(v);
    case Unit::Count: return thousands(static_cast<int64_t>(std::llround(v)));
    case Unit::Seconds: return significant(v, 3);
    case Unit::Rate: return std::fabs(v) >= 100 ? thousands(static_cast<int64_t>(std::llround(v))) : significant(v, 3);
    case Unit::Bytes: return significant(v / (1024.0 * 1024.0), 3);
    case Unit::Plain: break;
  }
  return significant(v);
}

std::string unit_suffix(Unit unit) {
  switch (unit) {
    case Unit::Fraction: return "%";
    case Unit::Seconds: return " s";
    case Unit::Rate: return " samples/s";
    case Unit::Bytes: return " MiB";
    case Unit::Count:
    case Unit::Plain: break;
  }
  return "";
}

std::string format_value(double v, Unit unit) {
  if (!std::isfinite(v)) return "n/a";
  if (unit == Unit::Seconds && v >= 60) {  // minutes read better than "4,521 s"
    const int64_t s = std::llround(v);
    if (s < 3600) return std::to_string(s / 60) + " min " + std::to_string(s % 60) + " s";
    return std::to_string(s / 3600) + " h " + printf_double("%02.0f", static_cast<double>((s % 3600) / 60)) + " min";
  }
  if (unit == Unit::Bytes) {
    const double a = std::fabs(v);
    if (a < 1024) return thousands(static_cast<int64_t>(std::llround(v))) + " B";
    if (a < 1024.0 * 1024) return significant(v / 1024, 3) + " KiB";
    if (a >= 1024.0 * 1024 * 1024) return significant(v / (1024.0 * 1024 * 1024), 3) + " GiB";
  }
  return format_bare(v, unit) + unit_suffix(unit);
}

std::string format_delta(double d, Unit unit) {
  if (!std::isfinite(d)) return "n/a";
  if (d == 0) return "±0";
  const std::string sign = d > 0 ? "+" : "-";
  const double a = std::fabs(d);
  if (unit == Unit::Fraction) return sign + percent_bare(a) + " pp";
  return sign + format_value(a, unit);
}

std::string delta_class(double d, Better better) {
  if (!std::isfinite(d) || d == 0 || better == Better::Neither) return "";
  return (d > 0) == (better == Better::Higher) ? "better" : "worse";
}

}  // namespace mmdebias::core::report
