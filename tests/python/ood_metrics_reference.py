#!/usr/bin/python3
"""Reference values for tests/unit/test_metrics.cpp, computed with scikit-learn as OpenOOD does.

Usage: /usr/bin/python3 ood_metrics_reference.py CASES.json
CASES.json is a list of {"scores", "is_ood", "labels", "preds", "num_classes"}; prints a JSON list of
{"auroc", "fpr_at_95tpr", "aupr_in", "aupr_out", "accuracy", "macro_f1"}, one per case.
Exit code 3 when numpy/scikit-learn is missing (install Debian's python3-sklearn).
"""
import json
import sys
import warnings

try:
    import numpy as np
    from sklearn import metrics
except ImportError as e:  # the C++ test turns this into a failure telling what to install
    print(f"ood_metrics_reference: {e}; install python3-sklearn (apt-get install python3-sklearn)",
          file=sys.stderr)
    sys.exit(3)


def auc_and_fpr_recall(conf, ood_indicator, tpr_th=0.95):
    """OpenOOD's openood/evaluators/metrics.py::auc_and_fpr_recall, with the OOD indicator given."""
    fpr_list, tpr_list, _ = metrics.roc_curve(ood_indicator, -conf)
    fpr = fpr_list[np.argmax(tpr_list >= tpr_th)]
    precision_in, recall_in, _ = metrics.precision_recall_curve(1 - ood_indicator, conf)
    precision_out, recall_out, _ = metrics.precision_recall_curve(ood_indicator, -conf)
    auroc = metrics.auc(fpr_list, tpr_list)
    aupr_in = metrics.auc(recall_in, precision_in)
    aupr_out = metrics.auc(recall_out, precision_out)
    return auroc, aupr_in, aupr_out, fpr


def main():
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    out = []
    warnings.simplefilter("ignore")  # zero_division warnings: the default ("warn") acts as 0
    for case in cases:
        conf = np.asarray(case["scores"], dtype=np.float64)
        ood = np.asarray(case["is_ood"], dtype=np.int64)
        auroc, aupr_in, aupr_out, fpr = auc_and_fpr_recall(conf, ood)
        labels = np.asarray(case["labels"], dtype=np.int64)
        preds = np.asarray(case["preds"], dtype=np.int64)
        classes = list(range(case["num_classes"]))
        out.append({
            "auroc": float(auroc), "fpr_at_95tpr": float(fpr),
            "aupr_in": float(aupr_in), "aupr_out": float(aupr_out),
            "accuracy": float(metrics.accuracy_score(labels, preds)),
            "macro_f1": float(metrics.f1_score(labels, preds, labels=classes, average="macro")),
            "f1": [float(v) for v in metrics.f1_score(labels, preds, labels=classes, average=None)],
        })
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
