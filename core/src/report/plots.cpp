// What the report plots, as gnuplot commands: curves over training steps, evaluation metrics, ROC curves
// and score histograms from per-sample scores, and the confusion matrix. Runs of a comparison share a
// figure where their curves can be overlaid (same colour per metric, a dash type per run).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <set>

#include "report/detail.hpp"
#include "report/format.hpp"

namespace mmdebias::core::report {

// gnuplot double-quoted strings treat backslash as an escape; enhanced text is off, so nothing else is special.
std::string gnuplot_quote(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string gnuplot_number(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

std::string id_part(const std::string& name) {
  std::string out;
  for (char c : name) out += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(c)) : '-';
  return out;
}

namespace {

std::string titled(const Run& run, const std::string& name) { return run.label.empty() ? name : run.label + ": " + name; }

// One figure's curves: a series per (run, name) in first-seen name order, coloured by name.
class Curves {
 public:
  void add(const Run& run, size_t run_index, const std::string& name, double x, const nlohmann::json& y) {
    if (!y.is_number()) return;  // null (e.g. no groups) or absent: no point
    auto key = std::make_pair(run_index, name);
    auto it = index_.find(key);
    if (it == index_.end()) {
      if (!colors_.count(name)) colors_[name] = static_cast<int>(colors_.size()) + 1;
      it = index_.emplace(key, series_.size()).first;
      series_.push_back({titled(run, name), {}, colors_[name], static_cast<int>(run_index) + 1});
    }
    series_[it->second].xy.emplace_back(x, y.get<double>());
  }
  const std::vector<Series>& series() const { return series_; }
  bool empty() const { return series_.empty(); }

 private:
  std::map<std::pair<size_t, std::string>, size_t> index_;
  std::map<std::string, int> colors_;
  std::vector<Series> series_;
};

// ROC of OOD detection (OOD positive, low score = OOD): (FPR, TPR) at every distinct threshold.
std::vector<std::pair<double, double>> roc_points(const std::vector<int>& ood, const std::vector<double>& score) {
  std::vector<size_t> order;  // a non-finite score has no place on the curve (and would break the sort)
  for (size_t i = 0; i < score.size(); ++i)
    if (std::isfinite(score[i])) order.push_back(i);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return score[a] < score[b]; });
  double positives = 0, negatives = 0;
  for (size_t i : order) (ood[i] ? positives : negatives) += 1;
  std::vector<std::pair<double, double>> points{{0, 0}};
  if (positives == 0 || negatives == 0) return points;
  double tp = 0, fp = 0;
  for (size_t k = 0; k < order.size(); ++k) {
    (ood[order[k]] ? tp : fp) += 1;
    if (k + 1 == order.size() || score[order[k + 1]] != score[order[k]]) points.emplace_back(fp / negatives, tp / positives);
  }
  return points;
}

// ROC curves and histograms compare in-distribution with OOD samples: a split needs both.
bool has_both(const Run& run) {
  const auto& o = run.samples.ood;
  return std::count(o.begin(), o.end(), 1) > 0 && std::count(o.begin(), o.end(), 0) > 0;
}

std::string histogram(const Run& run, const std::string& scorer, const std::vector<double>& score) {
  const int bins = 30;
  double lo = INFINITY, hi = -INFINITY;
  for (double v : score)
    if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  if (!(hi > lo)) hi = lo + 1;
  double width = (hi - lo) / bins;
  std::vector<double> counts[2] = {std::vector<double>(bins), std::vector<double>(bins)};
  double totals[2] = {0, 0};
  for (size_t i = 0; i < score.size(); ++i) {
    if (!std::isfinite(score[i])) continue;
    int b = std::min(bins - 1, static_cast<int>((score[i] - lo) / width));
    counts[run.samples.ood[i]][b] += 1;
    totals[run.samples.ood[i]] += 1;
  }
  std::string s = "set boxwidth " + gnuplot_number(width) + " absolute\nset style fill transparent solid 0.45 noborder\n";
  const char* names[2] = {"in-distribution", "OOD"};
  std::string plot = "plot ";
  for (int g = 0; g < 2; ++g) {
    s += "$h" + std::to_string(g) + " << EOD\n";
    for (int b = 0; b < bins; ++b) s += gnuplot_number(lo + (b + 0.5) * width) + " " + gnuplot_number(totals[g] > 0 ? counts[g][b] / totals[g] : 0) + "\n";
    s += "EOD\n";
    plot += std::string(g ? ", " : "") + "$h" + std::to_string(g) + " using 1:2 with boxes lc " + std::to_string(g + 1) + " title " + gnuplot_quote(names[g]);
  }
  return s + "set title " + gnuplot_quote(titled(run, scorer + " scores")) + "\nset xlabel \"score (higher = more in-distribution)\"\n" +
         "set ylabel \"fraction of samples\"\nset key top left\n" + plot + "\n";
}

std::string confusion(const Run& run, const nlohmann::json& matrix) {
  const size_t n = matrix.size();
  std::string s = "$m << EOD\n";
  for (const auto& row : matrix) {
    for (size_t c = 0; c < row.size(); ++c) s += (c ? " " : "") + gnuplot_number(row[c].get<double>());
    s += "\n";
  }
  s += "EOD\n";
  const std::string edge = gnuplot_number(static_cast<double>(n) - 0.5);
  return s + "set title " + gnuplot_quote(titled(run, "confusion matrix (in-distribution samples)")) + "\n" +
         "set xlabel \"predicted class\"\nset ylabel \"true class\"\nunset key\nset size square\n"
         "set palette defined (0 \"#ffffff\", 1 \"#2b6cb0\")\nset xrange [-0.5:" + edge + "]\nset yrange [" + edge + ":-0.5]\n" +
         "set xtics 1\nset ytics 1\nplot $m matrix with image pixels, $m matrix using 1:2:(sprintf(\"%d\", $3)) with labels\n";
}

}  // namespace

std::string line_chart(const std::string& title, const std::string& xlabel, const std::string& ylabel, const std::vector<Series>& series) {
  std::string s, plot = "plot ";
  for (size_t i = 0; i < series.size(); ++i) {
    s += "$d" + std::to_string(i) + " << EOD\n";
    for (const auto& [x, y] : series[i].xy) s += gnuplot_number(x) + " " + gnuplot_number(y) + "\n";
    s += "EOD\n";
    const char* style = series[i].xy.size() <= 30 ? "linespoints pt 7 ps 0.5" : "lines";
    plot += std::string(i ? ", " : "") + "$d" + std::to_string(i) + " using 1:2 with " + style + " lw 1.5 lc " +
            std::to_string(series[i].color) + " dt " + std::to_string(series[i].dash) + " title " + gnuplot_quote(series[i].title);
  }
  return s + "set title " + gnuplot_quote(title) + "\nset xlabel " + gnuplot_quote(xlabel) + "\nset ylabel " + gnuplot_quote(ylabel) +
         "\nset key below maxrows 4 height 1\nset grid lc rgb \"#e6e9ed\"\n" + plot + "\n";
}

std::vector<Plot> make_plots(const std::vector<Run>& runs) {
  std::vector<Plot> plots;
  Curves loss, eval, modality;
  std::map<std::string, Curves> components;  // by component ("interventions.reweight"), from "component/metric"
  for (size_t r = 0; r < runs.size(); ++r) {
    const Run& run = runs[r];
    for (const auto& line : run.train) {
      const double step = line.value("step", 0.0);
      loss.add(run, r, "loss", step, line.value("loss", nlohmann::json()));
      // items() refers to its json: keep each object alive for the loop (not a temporary).
      const nlohmann::json terms = line.value("terms", nlohmann::json::object()), metrics = line.value("metrics", nlohmann::json::object());
      for (const auto& [name, v] : terms.items()) loss.add(run, r, name, step, v);
      for (const auto& [name, v] : metrics.items()) {
        size_t slash = name.find('/');
        components[name.substr(0, slash)].add(run, r, slash == std::string::npos ? name : name.substr(slash + 1), step, v);
      }
    }
    for (const auto& e : run.evals) {
      const double step = e.value("step", 0.0);
      const nlohmann::json cls = e.value("classification", nlohmann::json::object());
      eval.add(run, r, "accuracy", step, cls.value("accuracy", nlohmann::json()));
      eval.add(run, r, "macro-F1", step, cls.value("macro_f1", nlohmann::json()));
      eval.add(run, r, "worst-group accuracy", step, cls.value("worst_group_accuracy", nlohmann::json()));
      const nlohmann::json ood = e.value("ood", nlohmann::json::object()), modalities = e.value("per_modality_accuracy", nlohmann::json::object());
      for (const auto& [scorer, m] : ood.items()) eval.add(run, r, "AUROC " + scorer, step, m.value("auroc", nlohmann::json()));
      modality.add(run, r, "fused", step, cls.value("accuracy", nlohmann::json()));
      for (const auto& [m, acc] : modalities.items()) modality.add(run, r, m + " alone", step, acc);
    }
  }
  if (!loss.empty()) plots.push_back({"loss", "Training loss and every loss term (unweighted) per logged step.",
                                      line_chart("loss terms", "step", "value", loss.series())});
  for (const auto& [component, curves] : components)
    plots.push_back({"metrics-" + id_part(component), "Metrics published by " + component + " during training.",
                     line_chart(component, "step", "value", curves.series())});
  if (!eval.empty()) plots.push_back({"eval", "Evaluation metrics at every evaluation (the last is the final one).",
                                      line_chart("evaluation", "step", "metric", eval.series())});
  if (!modality.empty()) plots.push_back({"modality", "Accuracy of the fused prediction and of each modality's own head.",
                                          line_chart("per-modality accuracy", "step", "accuracy", modality.series())});

  std::set<std::string> scorers;
  for (const auto& run : runs) for (const auto& kv : run.samples.scores) scorers.insert(kv.first);
  for (const auto& scorer : scorers) {
    std::vector<Series> roc;
    for (size_t r = 0; r < runs.size(); ++r) {
      auto it = runs[r].samples.scores.find(scorer);
      if (it == runs[r].samples.scores.end() || !has_both(runs[r])) continue;
      std::string auroc;
      nlohmann::json fe = final_eval(runs[r]);
      if (fe.is_object() && fe.contains("ood") && fe["ood"].contains(scorer)) auroc = " (AUROC " + format_value(fe["ood"][scorer].value("auroc", 0.0), Unit::Fraction) + ")";
      roc.push_back({titled(runs[r], scorer + auroc), roc_points(runs[r].samples.ood, it->second), 1, static_cast<int>(r) + 1});
    }
    if (roc.empty()) continue;  // no run with both kinds of samples: nothing to separate
    roc.push_back({"chance", {{0, 0}, {1, 1}}, 10, 3});  // 10: grey (gnuplot.cpp)
    plots.push_back({"roc-" + id_part(scorer), "ROC of OOD detection by " + scorer + " (OOD is the positive class) on the final evaluation.",
                     "set size square\nset xrange [0:1]\nset yrange [0:1]\n" + line_chart(scorer + " ROC", "false positive rate (ID flagged)",
                                                                                          "true positive rate (OOD found)", roc)});
    for (const auto& run : runs) {
      auto it = run.samples.scores.find(scorer);
      if (it == run.samples.scores.end() || !has_both(run)) continue;
      std::string suffix = run.label.empty() ? "" : "-" + id_part(run.label);
      plots.push_back({"hist-" + id_part(scorer) + suffix, "Distribution of " + scorer + " scores, in-distribution against OOD.",
                       histogram(run, scorer, it->second)});
    }
  }
  for (const auto& run : runs) {
    nlohmann::json fe = final_eval(run);
    if (!fe.is_object() || !fe.contains("classification")) continue;
    const nlohmann::json& m = fe["classification"]["confusion"];
    if (!m.is_array() || m.empty()) continue;
    plots.push_back({"confusion" + (run.label.empty() ? "" : "-" + id_part(run.label)),
                     "Confusion matrix of the final evaluation: rows are true classes, columns predicted.", confusion(run, m)});
  }
  return plots;
}

}  // namespace mmdebias::core::report
