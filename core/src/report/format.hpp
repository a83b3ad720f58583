// Numbers for people, in one place: the HTML reports and the table `run` prints format every metric, time,
// rate and size here, so a reader sees the same "81.25%" or "55,328 samples/s" wherever a value appears.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace mmdebias::core::report {

/// What a number measures, which decides how it is written.
enum class Unit {
  Plain,     ///< A value without unit (a loss, a weight): 4 significant digits.
  Fraction,  ///< A share in [0, 1] readers expect as a percentage (accuracy, AUROC, data wait).
  Count,     ///< An integer count (steps, samples): thousands separators.
  Seconds,   ///< A duration in seconds.
  Rate,      ///< samples per second.
  Bytes,     ///< A size in bytes (KiB, MiB, GiB).
};

/// Which way a metric is better, so that a difference can be coloured as a gain or a loss.
enum class Better { Neither, Higher, Lower };

/// How a metric's value is read, from its name: the last part of a dotted or '/'-separated path
/// ("eval.classification.accuracy", "train/samples_per_s") and, for per-modality accuracies, its parent.
struct MetricKind {
  Unit unit = Unit::Plain;
  Better better = Better::Neither;
};
MetricKind metric_kind(const std::string& path);

/// A human name for a metric path: "eval.ood.msp.fpr_at_95tpr" -> "FPR@95TPR", "...per_modality_accuracy.m0"
/// -> "m0 alone"; an unknown leaf keeps its own name.
std::string metric_label(const std::string& path);

/// v with at most `digits` significant digits, no exponent between 1e-3 and 1e6, thousands separators from
/// 1,000 on (whole numbers there: more digits than that are noise to a reader).
std::string significant(double v, int digits = 4);

/// An integer with thousands separators: 1234567 -> "1,234,567".
std::string thousands(int64_t v);

/// v in its unit: Fraction 0.8125 -> "81.25%", Seconds 75.3 -> "1 min 15 s", Rate -> "55,328 samples/s",
/// Bytes -> "1.5 MiB". Non-finite values are written "n/a".
std::string format_value(double v, Unit unit);

/// The number alone, in the unit's scale (a Fraction as percent without the sign): for "mean ± std" and
/// intervals, whose unit is written once.
std::string format_bare(double v, Unit unit);

/// The unit as a suffix after a bare number: "%", " s", " samples/s", "" for Plain and Count.
std::string unit_suffix(Unit unit);

/// A signed difference: "+1.25 pp" for fractions (percentage points), "-0.52 s", "+1,234 samples/s", "±0" for 0.
std::string format_delta(double d, Unit unit);

/// The CSS class of a difference d for a metric: "better", "worse" or "" (no direction, or no difference).
std::string delta_class(double d, Better better);

}  // namespace mmdebias::core::report
