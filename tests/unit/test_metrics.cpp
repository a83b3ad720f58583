// Evaluation metrics: hand-computed cases, sklearn's tie and drop_intermediate quirks, refusals, and
// agreement with scikit-learn itself (tests/python/ood_metrics_reference.py, run by Debian's python3).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include "eval/metrics.hpp"

namespace fs = std::filesystem;
using namespace mmdebias::core;

namespace {

at::Tensor dvec(const std::vector<double>& v) { return at::tensor(v, at::kDouble); }
at::Tensor lvec(const std::vector<int64_t>& v) { return at::tensor(v, at::kLong); }

// OOD metrics from ID and OOD score lists, through the main (scores, is_ood) entry point.
OodMetrics ood(const std::vector<double>& id, const std::vector<double>& out) {
  std::vector<double> s = id;
  s.insert(s.end(), out.begin(), out.end());
  std::vector<int64_t> y(id.size(), 0);
  y.resize(s.size(), 1);
  return ood_metrics(dvec(s), lvec(y));
}

std::vector<double> repeat(double v, int n) { return std::vector<double>(static_cast<size_t>(n), v); }

}  // namespace

TEST_CASE("test_metrics: AUROC with one inversion is 15/16; PR areas by hand") {
  const OodMetrics m = ood({0.9, 0.8, 0.7, 0.3}, {0.4, 0.2, 0.1, 0.0});
  CHECK(m.num_id == 4);
  CHECK(m.num_ood == 4);
  CHECK(m.auroc == doctest::Approx(15.0 / 16.0).epsilon(1e-12));
  CHECK(m.fpr_at_95tpr == doctest::Approx(0.25).epsilon(1e-12));
  // PR points (recall, precision) ... (0.75, 3/4), (1, 4/5) ...: 0.75 + 0.25 * (3/4 + 4/5) / 2.
  CHECK(m.aupr_out == doctest::Approx(0.94375).epsilon(1e-12));
  CHECK(m.aupr_in == doctest::Approx(0.94375).epsilon(1e-12));
  const OodMetrics f = ood_metrics_from_sets(dvec({0.9, 0.8, 0.7, 0.3}), at::tensor({0.4f, 0.2f, 0.1f, 0.0f}));
  CHECK(f.auroc == doctest::Approx(15.0 / 16.0).epsilon(1e-12));
  CHECK(f.num_ood == 4);
}

TEST_CASE("test_metrics: perfect separation, complete reversal, all tied") {
  const OodMetrics p = ood({1, 2, 3}, {-1, -2});
  CHECK(p.auroc == 1.0);
  CHECK(p.fpr_at_95tpr == 0.0);
  CHECK(p.aupr_in == 1.0);
  CHECK(p.aupr_out == 1.0);

  const OodMetrics r = ood({-1, -2}, {1, 2, 3});
  CHECK(r.auroc == 0.0);
  CHECK(r.fpr_at_95tpr == 1.0);

  // One distinct threshold: ROC (0,0)-(1,1); PR (1, 3/8)-(0, 1) for ID, (1, 5/8)-(0, 1) for OOD.
  const OodMetrics t = ood(repeat(0.5, 3), repeat(0.5, 5));
  CHECK(t.auroc == 0.5);
  CHECK(t.fpr_at_95tpr == 1.0);
  CHECK(t.aupr_in == doctest::Approx(11.0 / 16.0).epsilon(1e-12));
  CHECK(t.aupr_out == doctest::Approx(13.0 / 16.0).epsilon(1e-12));
}

TEST_CASE("test_metrics: FPR@95 when a tie straddles the 95% TPR") {
  // 20 OOD, 20 ID: 18 OOD at 0.0; 2 OOD tied with 4 ID at 0.5; 16 ID at 1.0. TPR goes 0.9 -> 1.0 in
  // one step (the tie is one threshold), so sklearn reads FPR = 4/20 there, not an interpolated 0.1
  // nor the 0 an implementation that ranks OOD first inside ties would give.
  std::vector<double> id = repeat(0.5, 4), out = repeat(0.0, 18);
  id.resize(20, 1.0);
  out.resize(20, 0.5);
  const OodMetrics m = ood(id, out);
  CHECK(m.fpr_at_95tpr == doctest::Approx(0.2).epsilon(1e-12));
  CHECK(m.auroc == doctest::Approx(0.99).epsilon(1e-12));  // 0.2 * (0.9 + 1) / 2 + 0.8
  // Input order must not matter.
  const OodMetrics rev = ood(std::vector<double>(id.rbegin(), id.rend()), std::vector<double>(out.rbegin(), out.rend()));
  CHECK(rev.fpr_at_95tpr == m.fpr_at_95tpr);
  CHECK(rev.auroc == m.auroc);
}

TEST_CASE("test_metrics: drop_intermediate changes FPR@95 exactly as sklearn's does") {
  // 20 thresholds, each holding one ID and one OOD sample: equal steps, so drop_intermediate keeps
  // only the ends, and the first kept point with TPR >= 0.95 is (1, 1): sklearn/OpenOOD report 1.0,
  // whereas the full curve would give 0.95.
  std::vector<double> s;
  std::vector<uint8_t> pos;
  std::vector<double> id, out;
  for (int k = 0; k < 20; ++k) {
    id.push_back(k);
    out.push_back(k);
    s.insert(s.end(), {-double(k), -double(k)});
    pos.insert(pos.end(), {0, 1});
  }
  const OodMetrics m = ood(id, out);
  CHECK(m.fpr_at_95tpr == 1.0);
  CHECK(m.auroc == doctest::Approx(0.5).epsilon(1e-12));
  const RocCurve dropped = roc_curve(s, pos, true);
  CHECK(dropped.fpr == std::vector<double>{0.0, 0.05, 1.0});
  const RocCurve full = roc_curve(s, pos, false);
  CHECK(full.fpr.size() == 21);
  CHECK(auc(full.fpr, full.tpr) == doctest::Approx(auc(dropped.fpr, dropped.tpr)).epsilon(1e-12));
}

TEST_CASE("test_metrics: sklearn's precision_recall_curve docstring example") {
  const PrCurve c = precision_recall_curve({0.1, 0.4, 0.35, 0.8}, {0, 0, 1, 1});
  const std::vector<double> p{0.5, 2.0 / 3.0, 0.5, 1.0, 1.0}, r{1.0, 1.0, 0.5, 0.5, 0.0};
  REQUIRE(c.precision.size() == p.size());
  for (size_t i = 0; i < p.size(); ++i) {
    CHECK(c.precision[i] == doctest::Approx(p[i]).epsilon(1e-12));
    CHECK(c.recall[i] == doctest::Approx(r[i]).epsilon(1e-12));
  }
}

TEST_CASE("test_metrics: OOD refusals") {
  CHECK_THROWS_AS(ood_metrics(dvec({}), lvec({})), std::invalid_argument);
  CHECK_THROWS_WITH_AS(ood({0.1, NAN}, {0.2}), doctest::Contains("NaN"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(ood({}, {0.1, 0.2}), doctest::Contains("in-distribution"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(ood({0.1, 0.2}, {}), doctest::Contains("OOD sample"), std::invalid_argument);
  CHECK_THROWS_AS(ood_metrics(dvec({0.1, 0.2}), lvec({0, 2})), std::invalid_argument);
  CHECK_THROWS_AS(ood_metrics(dvec({0.1, 0.2}), lvec({0, 1, 1})), std::invalid_argument);
  // bool labels are accepted.
  CHECK(ood_metrics(dvec({0.9, 0.1}), at::tensor(std::vector<int64_t>{0, 1}).to(at::kBool)).auroc == 1.0);
}

TEST_CASE("test_metrics: macro-F1, confusion and worst group on a hand-computed 3-class case") {
  // Confusion (rows true): [3 1 0; 1 2 1; 0 0 2]. Precision 3/4, 2/3, 2/3; recall 3/4, 1/2, 1;
  // F1 3/4, 4/7, 4/5 -> macro (297/140)/3 = 99/140.
  const std::vector<int64_t> y{0, 0, 0, 0, 1, 1, 1, 1, 2, 2};
  const std::vector<int64_t> p{0, 0, 0, 1, 0, 1, 1, 2, 2, 2};
  // Group 0: samples 0,1,2 (right), 7 (wrong) -> 3/4; group 7: 3,4 (wrong), 5,6 (right) -> 1/2.
  const std::vector<int64_t> g{0, 0, 0, 7, 7, 7, 7, 0, -1, -1};
  const ClassificationMetrics m = classification_metrics(lvec(p), lvec(y), lvec(g), 3);
  CHECK(m.count == 10);
  CHECK(m.accuracy == doctest::Approx(0.7).epsilon(1e-12));
  CHECK(m.macro_f1 == doctest::Approx(99.0 / 140.0).epsilon(1e-12));
  CHECK(m.confusion == std::vector<std::vector<int64_t>>{{3, 1, 0}, {1, 2, 1}, {0, 0, 2}});
  CHECK(m.per_class[1].precision == doctest::Approx(2.0 / 3.0).epsilon(1e-12));
  CHECK(m.per_class[1].recall == doctest::Approx(0.5).epsilon(1e-12));
  CHECK(m.per_class[1].f1 == doctest::Approx(4.0 / 7.0).epsilon(1e-12));
  CHECK(m.per_class[2].support == 2);
  REQUIRE(m.per_group.size() == 2);
  CHECK(m.per_group.at(0).count == 4);
  CHECK(m.per_group.at(0).accuracy == doctest::Approx(0.75).epsilon(1e-12));
  CHECK(m.per_group.at(7).accuracy == doctest::Approx(0.5).epsilon(1e-12));
  REQUIRE(m.worst_group_accuracy.has_value());
  CHECK(*m.worst_group_accuracy == doctest::Approx(0.5).epsilon(1e-12));

  // Logits give the same answer through argmax.
  const at::Tensor logits = at::one_hot(lvec(p), 3).to(at::kFloat) * 5.0 - 1.0;
  const ClassificationMetrics l = classification_metrics(logits, lvec(y), at::Tensor(), 3);
  CHECK(l.macro_f1 == m.macro_f1);
  CHECK(l.per_group.empty());
  CHECK_FALSE(l.worst_group_accuracy.has_value());
  CHECK(to_json(l)["worst_group_accuracy"].is_null());
  CHECK(accuracy_of(logits, lvec(y)) == doctest::Approx(0.7).epsilon(1e-12));

  // A 4th class with no true and no predicted sample contributes F1 = 0 (sklearn 1.2, zero_division=0).
  const ClassificationMetrics four = classification_metrics(lvec(p), lvec(y), at::Tensor(), 4);
  CHECK(four.macro_f1 == doctest::Approx(297.0 / 560.0).epsilon(1e-12));
  CHECK(four.per_class[3].f1 == 0.0);
  CHECK(four.per_class[3].precision == 0.0);

  const nlohmann::json j = to_json(m);
  CHECK(j["per_group"]["7"]["count"] == 4);
  CHECK(j["confusion"][0][1] == 1);
}

TEST_CASE("test_metrics: classification refusals") {
  CHECK_THROWS_AS(classification_metrics(lvec({0, 3}), lvec({0, 1}), at::Tensor(), 3), std::invalid_argument);
  CHECK_THROWS_AS(classification_metrics(lvec({0, 1}), lvec({0, -1}), at::Tensor(), 3), std::invalid_argument);
  CHECK_THROWS_AS(classification_metrics(at::zeros({2, 4}), lvec({0, 1}), at::Tensor(), 3), std::invalid_argument);
  CHECK_THROWS_AS(classification_metrics(lvec({0, 1}), lvec({0, 1}), lvec({0, -2}), 3), std::invalid_argument);
  CHECK_THROWS_AS(classification_metrics(lvec({}), lvec({}), at::Tensor(), 3), std::invalid_argument);
  CHECK_THROWS_AS(accuracy_of(lvec({0}), lvec({0, 1})), std::invalid_argument);
}

TEST_CASE("test_metrics: agreement with scikit-learn") {
  const fs::path python = MMDEBIAS_PYTHON;
  const fs::path script = fs::path(MMDEBIAS_SOURCE_DIR) / "tests/python/ood_metrics_reference.py";
  if (!fs::exists(python)) {
    FAIL(MMDEBIAS_PYTHON " is missing: install Debian's python3 and python3-sklearn (scripts/setup --tests)");
  }
  REQUIRE(fs::exists(script));

  // Cases: scores rounded to 1 decimal (many ties), to integers (huge ties, drop_intermediate at
  // work), unrounded, and a tiny set. Classes: C = 6 but labels/preds use only 0..4, so the absent
  // class exercises zero_division.
  std::mt19937_64 rng(20240611);
  nlohmann::json cases = nlohmann::json::array();
  std::vector<std::vector<double>> scores;
  std::vector<std::vector<int64_t>> is_ood, labels, preds;
  const std::vector<std::pair<int, double>> specs{{500, 10.0}, {500, 1.0}, {500, 0.0}, {7, 10.0}};
  for (const auto& [n, round_to] : specs) {
    std::normal_distribution<double> id_dist(0.8, 0.5), ood_dist(0.2, 0.5);
    std::bernoulli_distribution coin(0.4), right(0.6);
    std::uniform_int_distribution<int64_t> cls(0, 4);
    std::vector<double> s;
    std::vector<int64_t> o, l, p;
    for (int i = 0; i < n; ++i) {
      const bool is_out = i < 2 ? i == 1 : coin(rng);  // both sets non-empty even for tiny n
      double v = is_out ? ood_dist(rng) : id_dist(rng);
      if (round_to > 0) v = std::round(v * round_to) / round_to;
      s.push_back(v);
      o.push_back(is_out);
      l.push_back(cls(rng));
      p.push_back(right(rng) ? l.back() : cls(rng));
    }
    cases.push_back({{"scores", s}, {"is_ood", o}, {"labels", l}, {"preds", p}, {"num_classes", 6}});
    scores.push_back(s);
    is_ood.push_back(o);
    labels.push_back(l);
    preds.push_back(p);
  }
  const fs::path in = fs::temp_directory_path() / ("mmdebias-metrics-" + std::to_string(::getpid()) + ".json");
  std::ofstream(in) << cases.dump();  // nlohmann writes doubles with round-trip precision

  // -I: ignore PYTHONPATH and user site-packages, which may belong to the other python3 on PATH.
  const std::string cmd = python.string() + " -I " + script.string() + " " + in.string();
  std::string output;
  FILE* pipe = ::popen(cmd.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buf[4096];
  for (size_t got; (got = std::fread(buf, 1, sizeof buf, pipe)) > 0;) output.append(buf, got);
  const int status = ::pclose(pipe);
  fs::remove(in);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 3) {
    FAIL("scikit-learn is missing for " MMDEBIAS_PYTHON ": install python3-sklearn (apt-get install python3-sklearn, or "
         "scripts/setup --tests)");
  }
  const std::string shown = "reference script output: " + output;
  INFO(shown);
  REQUIRE_MESSAGE(status == 0, "the sklearn reference script failed (is python3-sklearn installed?)");
  const nlohmann::json ref = nlohmann::json::parse(output);
  REQUIRE(ref.size() == specs.size());

  for (size_t c = 0; c < specs.size(); ++c) {
    CAPTURE(c);
    const OodMetrics m = ood_metrics(dvec(scores[c]), lvec(is_ood[c]));
    CHECK(std::abs(m.auroc - ref[c]["auroc"].get<double>()) < 1e-9);
    CHECK(std::abs(m.fpr_at_95tpr - ref[c]["fpr_at_95tpr"].get<double>()) < 1e-9);
    CHECK(std::abs(m.aupr_in - ref[c]["aupr_in"].get<double>()) < 1e-9);
    CHECK(std::abs(m.aupr_out - ref[c]["aupr_out"].get<double>()) < 1e-9);
    const ClassificationMetrics k = classification_metrics(lvec(preds[c]), lvec(labels[c]), at::Tensor(), 6);
    CHECK(std::abs(k.accuracy - ref[c]["accuracy"].get<double>()) < 1e-9);
    CHECK(std::abs(k.macro_f1 - ref[c]["macro_f1"].get<double>()) < 1e-9);
    for (size_t i = 0; i < 6; ++i) CHECK(std::abs(k.per_class[i].f1 - ref[c]["f1"][i].get<double>()) < 1e-9);
  }
}
