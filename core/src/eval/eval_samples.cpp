#include "eval/eval_samples.hpp"

#include <ATen/ATen.h>

#include <cstdio>

#include "common/atomic_file.hpp"

namespace mmdebias::core {

std::string sample_scores_file(const std::string& split) { return "eval-scores-" + split + ".csv"; }

void write_sample_scores(const std::filesystem::path& path, const SampleScores& samples) {
  if (!samples.ood.defined()) return;  // an empty split: nothing was evaluated
  std::string text = "ood,label,predicted";
  for (const auto& kv : samples.scores) text += "," + kv.first;
  text += "\n";
  at::Tensor ood = samples.ood.to(at::kLong).contiguous(), label = samples.label.contiguous(), predicted = samples.predicted.contiguous();
  std::vector<at::Tensor> scores;
  for (const auto& kv : samples.scores) scores.push_back(kv.second.to(at::kDouble).contiguous());
  const int64_t n = ood.size(0);
  char buf[64];
  for (int64_t i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof buf, "%lld,%lld,%lld", static_cast<long long>(ood.data_ptr<int64_t>()[i]),
                  static_cast<long long>(label.data_ptr<int64_t>()[i]), static_cast<long long>(predicted.data_ptr<int64_t>()[i]));
    text += buf;
    for (const auto& s : scores) {
      std::snprintf(buf, sizeof buf, ",%.17g", s.data_ptr<double>()[i]);
      text += buf;
    }
    text += "\n";
  }
  write_file_atomically(path, text);
}

}  // namespace mmdebias::core
