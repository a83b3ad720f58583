// Summaries over seeds: mean, sample standard deviation and Student's t 95% interval, of values or of paired
// differences (the same seeds of two configurations).
#pragma once

#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

namespace mmdebias::core {

/// n, mean, sample std (n - 1) and the two-sided 95% t interval of the mean; std and interval absent below n = 2.
struct SeedSummary {
  size_t n = 0;                  ///< How many values.
  double mean = 0;               ///< Their mean.
  std::optional<double> std;     ///< Sample standard deviation (n - 1 in the denominator).
  std::optional<double> low;     ///< mean - t(0.975, n - 1) * std / sqrt(n).
  std::optional<double> high;    ///< mean + t(0.975, n - 1) * std / sqrt(n).
  /// True when the interval excludes 0 (of a difference: the sign is shown at 95%).
  bool excludes_zero() const { return low && high && (*low > 0 || *high < 0); }
};

/// Summarises values (at least one).
SeedSummary summarise(const std::vector<double>& values);

/// {"n", "mean", "std", "ci95": [low, high]} (null where absent).
nlohmann::json to_json(const SeedSummary& s);

}  // namespace mmdebias::core
