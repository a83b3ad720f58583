// Evaluation metrics: classification (accuracy, macro-F1, per-group) and OOD detection (OpenOOD's
// AUROC, FPR@95TPR, AUPR-In/Out). Inputs are CPU tensors; results are plain structs so the evaluator
// can log them without LibTorch. The definitions follow scikit-learn 1.2 exactly (see metrics.cpp).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

namespace mmdebias::core {

/// Precision, recall and F1 of one class (one-vs-rest); 0 where a ratio is 0/0 (sklearn's zero_division=0).
struct ClassScores {
  double precision = 0;  ///< tp / (tp + fp), 0 when the class is never predicted.
  double recall = 0;     ///< tp / (tp + fn), 0 when the class never occurs.
  double f1 = 0;         ///< 2pr / (p + r), 0 when p + r = 0.
  int64_t support = 0;   ///< Number of samples whose true label is this class.
};

/// Accuracy over the samples of one group.
struct GroupAccuracy {
  int64_t count = 0;    ///< Samples in the group.
  double accuracy = 0;  ///< Fraction of them predicted correctly.
};

/// Everything classification_metrics computes.
struct ClassificationMetrics {
  int64_t count = 0;                                  ///< Number of samples.
  int64_t num_classes = 0;                            ///< C, the classes 0..C-1 the averages run over.
  double accuracy = 0;                                ///< Fraction predicted correctly.
  double macro_f1 = 0;                                ///< Unweighted mean of per_class[c].f1 over c = 0..C-1.
  std::vector<ClassScores> per_class;                 ///< Indexed by class, size C.
  std::vector<std::vector<int64_t>> confusion;        ///< [C][C]: rows = true class, columns = predicted.
  std::map<int64_t, GroupAccuracy> per_group;         ///< Group id -> accuracy; group -1 (unknown) left out.
  std::optional<double> worst_group_accuracy;         ///< Min over per_group; empty when no group is known.
};

/// Classification metrics of logits [N, C] (argmax taken) or predictions [N] (integer) against labels
/// [N] in 0..C-1; groups is undefined or [N] integer with -1 for unknown. Throws std::invalid_argument
/// on empty input, mismatched shapes, or labels/predictions outside 0..C-1.
ClassificationMetrics classification_metrics(const at::Tensor& logits_or_pred, const at::Tensor& labels,
                                             const at::Tensor& groups, int64_t num_classes);

/// Accuracy of logits [N, C] (or predictions [N]) against labels [N]; for per-modality heads.
double accuracy_of(const at::Tensor& logits, const at::Tensor& labels);

/// OOD-detection metrics, OpenOOD convention: scores are "higher = more in-distribution", OOD is positive.
struct OodMetrics {
  double auroc = 0;         ///< Area under the ROC curve of (is_ood, -score).
  double fpr_at_95tpr = 0;  ///< FPR at the first ROC point whose TPR >= 0.95.
  double aupr_in = 0;       ///< Area under the PR curve with ID as positive, ranked by score.
  double aupr_out = 0;      ///< Area under the PR curve with OOD as positive, ranked by -score.
  int64_t num_id = 0;       ///< Number of in-distribution samples.
  int64_t num_ood = 0;      ///< Number of OOD samples.
};

/// OOD metrics of scores [N] (floating; higher = more ID) against is_ood [N] (bool or integer 0/1).
/// Throws std::invalid_argument on empty input, NaN scores, or a set without ID or without OOD samples.
OodMetrics ood_metrics(const at::Tensor& scores, const at::Tensor& is_ood);

/// The same from two separate score sets (ID samples, OOD samples).
OodMetrics ood_metrics_from_sets(const at::Tensor& id_scores, const at::Tensor& ood_scores);

/// A ROC curve as sklearn.metrics.roc_curve returns it (thresholds left out).
struct RocCurve {
  std::vector<double> fpr;  ///< False-positive rate per point, starting at 0.
  std::vector<double> tpr;  ///< True-positive rate per point, starting at 0.
};

/// A precision-recall curve as sklearn.metrics.precision_recall_curve returns it (recall decreasing).
struct PrCurve {
  std::vector<double> precision;  ///< Ends with 1.
  std::vector<double> recall;     ///< Ends with 0.
};

/// sklearn's roc_curve(y, s, drop_intermediate=...) for binary y (nonzero = positive); needs both classes.
RocCurve roc_curve(const std::vector<double>& score, const std::vector<uint8_t>& positive,
                   bool drop_intermediate = true);

/// sklearn's precision_recall_curve(y, s) for binary y (nonzero = positive); needs a positive sample.
PrCurve precision_recall_curve(const std::vector<double>& score, const std::vector<uint8_t>& positive);

/// Trapezoidal area under y(x) for monotone x, as sklearn.metrics.auc (sign fixed for decreasing x).
double auc(const std::vector<double>& x, const std::vector<double>& y);

/// JSON form of ClassScores.
nlohmann::json to_json(const ClassScores& s);
/// JSON form of GroupAccuracy.
nlohmann::json to_json(const GroupAccuracy& g);
/// JSON form of ClassificationMetrics; group ids become string keys, a missing worst group is null.
nlohmann::json to_json(const ClassificationMetrics& m);
/// JSON form of OodMetrics.
nlohmann::json to_json(const OodMetrics& m);

}  // namespace mmdebias::core
