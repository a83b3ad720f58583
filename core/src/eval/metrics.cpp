// Evaluation metrics. Everything here reproduces scikit-learn 1.2.1 (Debian 12's python3-sklearn),
// the library OpenOOD's evaluator calls, so that numbers are comparable with published tables;
// tests/unit/test_metrics.cpp checks agreement against sklearn itself.
#include "eval/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>

namespace mmdebias::core {
namespace {

[[noreturn]] void fail(const std::string& what) { throw std::invalid_argument("metrics: " + what); }

std::string shape_of(const at::Tensor& t) {
  std::string s = "[";
  for (int64_t d = 0; d < t.dim(); ++d) s += (d ? ", " : "") + std::to_string(t.size(d));
  return s + "]";
}

// A 1-D integer tensor as int64 values; `what` names it in errors.
std::vector<int64_t> int_vector(const at::Tensor& t, const char* what) {
  if (!t.defined()) fail(std::string(what) + " is undefined");
  if (t.dim() != 1) fail(std::string(what) + " must be 1-D, got shape " + shape_of(t));
  if (at::isFloatingType(t.scalar_type()) || at::isComplexType(t.scalar_type()))
    fail(std::string(what) + " must be an integer or bool tensor, got " + std::string(c10::toString(t.scalar_type())));
  at::Tensor c = t.detach().to(at::kCPU, at::kLong).contiguous();
  const int64_t* p = c.data_ptr<int64_t>();
  return std::vector<int64_t>(p, p + c.numel());
}

// Predicted classes from logits [N, C] (argmax, first maximum on ties) or predictions [N].
std::vector<int64_t> predictions(const at::Tensor& logits_or_pred, int64_t num_classes) {
  if (!logits_or_pred.defined()) fail("logits/predictions are undefined");
  if (logits_or_pred.dim() == 2) {
    if (!at::isFloatingType(logits_or_pred.scalar_type())) fail("2-D logits must be floating point");
    if (num_classes > 0 && logits_or_pred.size(1) != num_classes)
      fail("logits have " + std::to_string(logits_or_pred.size(1)) + " columns but num_classes is " +
           std::to_string(num_classes));
    return int_vector(logits_or_pred.detach().to(at::kCPU).argmax(1), "argmax");
  }
  if (logits_or_pred.dim() == 1) return int_vector(logits_or_pred, "predictions");
  fail("expected logits [N, C] or predictions [N], got shape " + shape_of(logits_or_pred));
}

// Scores as doubles; refuses NaN, which has no place in a ranking. ±inf ranks fine and is kept
// (sklearn would refuse it; the answer is the same as for a very large finite score).
std::vector<double> score_vector(const at::Tensor& t, const char* what) {
  if (!t.defined()) fail(std::string(what) + " is undefined");
  if (t.dim() != 1) fail(std::string(what) + " must be 1-D, got shape " + shape_of(t));
  if (!at::isFloatingType(t.scalar_type()) && !at::isIntegralType(t.scalar_type(), false))
    fail(std::string(what) + " must be a real tensor");
  at::Tensor c = t.detach().to(at::kCPU, at::kDouble).contiguous();
  const double* p = c.data_ptr<double>();
  std::vector<double> v(p, p + c.numel());
  for (size_t i = 0; i < v.size(); ++i)
    if (std::isnan(v[i])) fail(std::string(what) + " holds NaN (at index " + std::to_string(i) + ")");
  return v;
}

// sklearn's _binary_clf_curve: cumulative (fps, tps) at each DISTINCT score, scores descending.
// Counts are integers, so the second differences drop_intermediate looks at are exact.
void binary_clf_curve(const std::vector<double>& score, const std::vector<uint8_t>& positive,
                      std::vector<int64_t>& fps, std::vector<int64_t>& tps) {
  if (score.size() != positive.size()) fail("scores and labels differ in length");
  std::vector<size_t> order(score.size());
  std::iota(order.begin(), order.end(), size_t{0});
  // Order inside a tie does not matter: a tie yields one point after all of its samples.
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return score[a] > score[b]; });
  fps.clear();
  tps.clear();
  int64_t fp = 0, tp = 0;
  for (size_t k = 0; k < order.size(); ++k) {
    (positive[order[k]] ? tp : fp) += 1;
    if (k + 1 == order.size() || score[order[k + 1]] != score[order[k]]) {
      fps.push_back(fp);
      tps.push_back(tp);
    }
  }
}

}  // namespace

RocCurve roc_curve(const std::vector<double>& score, const std::vector<uint8_t>& positive, bool drop_intermediate) {
  std::vector<int64_t> fps, tps;
  binary_clf_curve(score, positive, fps, tps);
  if (fps.empty()) fail("roc_curve of an empty set");
  // sklearn's drop_intermediate keeps point i only where the step into it differs from the step out
  // of it (np.diff(fps, 2) or np.diff(tps, 2) nonzero), plus both ends. AUROC is unchanged (dropped
  // points are collinear) but FPR@95 is not: a dropped point can be the first with TPR >= 0.95, and
  // OpenOOD then reads the next kept one. So mimic it exactly.
  if (drop_intermediate && fps.size() > 2) {
    std::vector<int64_t> f{fps.front()}, t{tps.front()};
    for (size_t i = 1; i + 1 < fps.size(); ++i) {
      const bool bend = fps[i + 1] - 2 * fps[i] + fps[i - 1] != 0 || tps[i + 1] - 2 * tps[i] + tps[i - 1] != 0;
      if (bend) {
        f.push_back(fps[i]);
        t.push_back(tps[i]);
      }
    }
    f.push_back(fps.back());
    t.push_back(tps.back());
    fps.swap(f);
    tps.swap(t);
  }
  const int64_t neg = fps.back(), pos = tps.back();
  if (neg <= 0) fail("roc_curve needs at least one negative sample");
  if (pos <= 0) fail("roc_curve needs at least one positive sample");
  RocCurve c;
  c.fpr.reserve(fps.size() + 1);
  c.tpr.reserve(fps.size() + 1);
  c.fpr.push_back(0.0);  // sklearn prepends (0, 0) so the curve starts at the origin.
  c.tpr.push_back(0.0);
  for (size_t i = 0; i < fps.size(); ++i) {
    c.fpr.push_back(static_cast<double>(fps[i]) / static_cast<double>(neg));
    c.tpr.push_back(static_cast<double>(tps[i]) / static_cast<double>(pos));
  }
  return c;
}

PrCurve precision_recall_curve(const std::vector<double>& score, const std::vector<uint8_t>& positive) {
  std::vector<int64_t> fps, tps;
  binary_clf_curve(score, positive, fps, tps);
  if (fps.empty()) fail("precision_recall_curve of an empty set");
  const int64_t pos = tps.back();
  // sklearn would set recall to 1 everywhere here (with a warning); such a curve is meaningless.
  if (pos <= 0) fail("precision_recall_curve needs at least one positive sample");
  PrCurve c;
  c.precision.reserve(fps.size() + 1);
  c.recall.reserve(fps.size() + 1);
  // sklearn 1.2 keeps every distinct threshold (reversed so recall decreases) and appends (r=0, p=1).
  for (size_t k = fps.size(); k-- > 0;) {
    c.precision.push_back(static_cast<double>(tps[k]) / static_cast<double>(tps[k] + fps[k]));
    c.recall.push_back(static_cast<double>(tps[k]) / static_cast<double>(pos));
  }
  c.precision.push_back(1.0);
  c.recall.push_back(0.0);
  return c;
}

double auc(const std::vector<double>& x, const std::vector<double>& y) {
  if (x.size() != y.size()) fail("auc: x and y differ in length");
  if (x.size() < 2) fail("auc needs at least 2 points");
  bool up = false, down = false;
  for (size_t i = 1; i < x.size(); ++i) {
    up |= x[i] > x[i - 1];
    down |= x[i] < x[i - 1];
  }
  if (up && down) fail("auc: x is neither increasing nor decreasing");
  // np.trapz: sum of dx * (y_i + y_{i+1}) / 2, negated for decreasing x as sklearn does.
  double area = 0;
  for (size_t i = 1; i < x.size(); ++i) area += (x[i] - x[i - 1]) * (y[i] + y[i - 1]) / 2.0;
  return down ? -area : area;
}

OodMetrics ood_metrics(const at::Tensor& scores, const at::Tensor& is_ood) {
  const std::vector<double> s = score_vector(scores, "OOD scores");
  const std::vector<int64_t> lab = int_vector(is_ood, "is_ood");
  if (s.size() != lab.size())
    fail("OOD scores have " + std::to_string(s.size()) + " entries but is_ood has " + std::to_string(lab.size()));
  if (s.empty()) fail("OOD metrics of an empty set");
  OodMetrics m;
  std::vector<uint8_t> ood(lab.size()), id(lab.size());
  std::vector<double> neg(s.size());
  for (size_t i = 0; i < lab.size(); ++i) {
    if (lab[i] != 0 && lab[i] != 1) fail("is_ood must hold 0/1, got " + std::to_string(lab[i]));
    ood[i] = static_cast<uint8_t>(lab[i]);
    id[i] = static_cast<uint8_t>(1 - lab[i]);
    neg[i] = -s[i];
    (lab[i] ? m.num_ood : m.num_id) += 1;
  }
  if (m.num_id == 0) fail("OOD metrics need at least one in-distribution sample, got none");
  if (m.num_ood == 0) fail("OOD metrics need at least one OOD sample, got none");

  // OpenOOD's auc_and_fpr_recall: OOD is positive and ranked by -score.
  const RocCurve roc = roc_curve(neg, ood, /*drop_intermediate=*/true);
  m.auroc = auc(roc.fpr, roc.tpr);
  // np.argmax(tpr >= 0.95): the first such point; the last point has tpr = 1, so one always exists.
  for (size_t i = 0; i < roc.tpr.size(); ++i)
    if (roc.tpr[i] >= 0.95) {
      m.fpr_at_95tpr = roc.fpr[i];
      break;
    }
  const PrCurve in = precision_recall_curve(s, id);
  m.aupr_in = auc(in.recall, in.precision);
  const PrCurve out = precision_recall_curve(neg, ood);
  m.aupr_out = auc(out.recall, out.precision);
  return m;
}

OodMetrics ood_metrics_from_sets(const at::Tensor& id_scores, const at::Tensor& ood_scores) {
  if (!id_scores.defined() || !ood_scores.defined()) fail("ID or OOD scores are undefined");
  if (id_scores.dim() != 1 || ood_scores.dim() != 1) fail("ID and OOD scores must be 1-D");
  at::Tensor s = at::cat({id_scores.detach().to(at::kCPU, at::kDouble), ood_scores.detach().to(at::kCPU, at::kDouble)});
  at::Tensor y = at::cat({at::zeros({id_scores.size(0)}, at::kLong), at::ones({ood_scores.size(0)}, at::kLong)});
  return ood_metrics(s, y);
}

ClassificationMetrics classification_metrics(const at::Tensor& logits_or_pred, const at::Tensor& labels,
                                             const at::Tensor& groups, int64_t num_classes) {
  if (num_classes < 1) fail("num_classes must be >= 1, got " + std::to_string(num_classes));
  const std::vector<int64_t> pred = predictions(logits_or_pred, num_classes);
  const std::vector<int64_t> y = int_vector(labels, "labels");
  if (pred.size() != y.size())
    fail(std::to_string(pred.size()) + " predictions but " + std::to_string(y.size()) + " labels");
  if (y.empty()) fail("classification metrics of an empty set");
  std::vector<int64_t> g;
  if (groups.defined()) {
    g = int_vector(groups, "groups");
    if (g.size() != y.size()) fail(std::to_string(g.size()) + " group ids but " + std::to_string(y.size()) + " labels");
  }

  const auto C = static_cast<size_t>(num_classes);
  ClassificationMetrics m;
  m.count = static_cast<int64_t>(y.size());
  m.num_classes = num_classes;
  m.confusion.assign(C, std::vector<int64_t>(C, 0));
  int64_t correct = 0;
  std::map<int64_t, int64_t> group_correct;
  for (size_t i = 0; i < y.size(); ++i) {
    if (y[i] < 0 || y[i] >= num_classes) fail("label " + std::to_string(y[i]) + " outside 0.." + std::to_string(num_classes - 1));
    if (pred[i] < 0 || pred[i] >= num_classes)
      fail("prediction " + std::to_string(pred[i]) + " outside 0.." + std::to_string(num_classes - 1));
    const bool ok = pred[i] == y[i];
    correct += ok;
    m.confusion[static_cast<size_t>(y[i])][static_cast<size_t>(pred[i])] += 1;
    if (!g.empty()) {
      if (g[i] < -1) fail("group id " + std::to_string(g[i]) + " is negative (only -1, unknown, is allowed)");
      if (g[i] == -1) continue;
      m.per_group[g[i]].count += 1;
      group_correct[g[i]] += ok;
    }
  }
  m.accuracy = static_cast<double>(correct) / static_cast<double>(m.count);

  // sklearn 1.2.1 precision_recall_fscore_support(labels=range(C)) with the default
  // zero_division="warn", which acts as 0: a 0/0 precision or recall is 0 and F1 is 0 when p + r = 0,
  // so a class with neither true nor predicted samples contributes F1 = 0 to the macro mean.
  // (sklearn's default labels=None would instead average only over classes present in y or pred;
  // we average over all C classes so the value does not depend on which classes a split happens to hold.)
  m.per_class.resize(C);
  double f1_sum = 0;
  for (size_t c = 0; c < C; ++c) {
    int64_t tp = m.confusion[c][c], true_sum = 0, pred_sum = 0;
    for (size_t k = 0; k < C; ++k) {
      true_sum += m.confusion[c][k];
      pred_sum += m.confusion[k][c];
    }
    ClassScores& s = m.per_class[c];
    s.support = true_sum;
    s.precision = pred_sum ? static_cast<double>(tp) / static_cast<double>(pred_sum) : 0.0;
    s.recall = true_sum ? static_cast<double>(tp) / static_cast<double>(true_sum) : 0.0;
    const double denom = s.precision + s.recall;
    s.f1 = denom == 0.0 ? 0.0 : 2.0 * s.precision * s.recall / denom;  // as sklearn: (1+b²)pr/(b²p+r)
    f1_sum += s.f1;
  }
  m.macro_f1 = f1_sum / static_cast<double>(C);

  for (auto& [id, ga] : m.per_group) {
    ga.accuracy = static_cast<double>(group_correct[id]) / static_cast<double>(ga.count);
    m.worst_group_accuracy = m.worst_group_accuracy ? std::min(*m.worst_group_accuracy, ga.accuracy) : ga.accuracy;
  }
  return m;
}

double accuracy_of(const at::Tensor& logits, const at::Tensor& labels) {
  const std::vector<int64_t> pred = predictions(logits, 0);
  const std::vector<int64_t> y = int_vector(labels, "labels");
  if (pred.size() != y.size()) fail(std::to_string(pred.size()) + " predictions but " + std::to_string(y.size()) + " labels");
  if (y.empty()) fail("accuracy of an empty set");
  int64_t correct = 0;
  for (size_t i = 0; i < y.size(); ++i) correct += pred[i] == y[i];
  return static_cast<double>(correct) / static_cast<double>(y.size());
}

nlohmann::json to_json(const ClassScores& s) {
  return {{"precision", s.precision}, {"recall", s.recall}, {"f1", s.f1}, {"support", s.support}};
}

nlohmann::json to_json(const GroupAccuracy& g) { return {{"count", g.count}, {"accuracy", g.accuracy}}; }

nlohmann::json to_json(const ClassificationMetrics& m) {
  nlohmann::json per_class = nlohmann::json::array();
  for (const auto& s : m.per_class) per_class.push_back(to_json(s));
  nlohmann::json per_group = nlohmann::json::object();  // JSON keys are strings.
  for (const auto& [id, g] : m.per_group) per_group[std::to_string(id)] = to_json(g);
  return {{"count", m.count},
          {"num_classes", m.num_classes},
          {"accuracy", m.accuracy},
          {"macro_f1", m.macro_f1},
          {"per_class", per_class},
          {"confusion", m.confusion},
          {"per_group", per_group},
          {"worst_group_accuracy", m.worst_group_accuracy ? nlohmann::json(*m.worst_group_accuracy) : nlohmann::json()}};
}

nlohmann::json to_json(const OodMetrics& m) {
  return {{"auroc", m.auroc},     {"fpr_at_95tpr", m.fpr_at_95tpr}, {"aupr_in", m.aupr_in},
          {"aupr_out", m.aupr_out}, {"num_id", m.num_id},           {"num_ood", m.num_ood}};
}

}  // namespace mmdebias::core
