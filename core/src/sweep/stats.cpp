#include "sweep/stats.hpp"

#include <cmath>

#include <boost/math/distributions/students_t.hpp>

namespace mmdebias::core {

SeedSummary summarise(const std::vector<double>& values) {
  SeedSummary s;
  s.n = values.size();
  if (s.n == 0) return s;
  double sum = 0;
  for (double v : values) sum += v;
  s.mean = sum / static_cast<double>(s.n);
  if (s.n < 2) return s;
  double squares = 0;
  for (double v : values) squares += (v - s.mean) * (v - s.mean);
  s.std = std::sqrt(squares / static_cast<double>(s.n - 1));
  const boost::math::students_t t(static_cast<double>(s.n - 1));
  const double half = boost::math::quantile(t, 0.975) * *s.std / std::sqrt(static_cast<double>(s.n));
  s.low = s.mean - half;
  s.high = s.mean + half;
  return s;
}

nlohmann::json to_json(const SeedSummary& s) {
  auto or_null = [](const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); };
  nlohmann::json ci = s.low ? nlohmann::json::array({*s.low, *s.high}) : nlohmann::json(nullptr);
  return {{"n", s.n}, {"mean", s.mean}, {"std", or_null(s.std)}, {"ci95", ci}};
}

}  // namespace mmdebias::core
