// Internal to the causalmm plugin: a what-if diagnostic that scores other (edit, γ, ε) settings on the same
// evaluation batches, so one trained run answers a sensitivity sweep (the host does not let `mmdebias eval`
// change an intervention's options). Off unless the sweep options are set.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "contrast.hpp"
#include "counterfactual_passes.hpp"
#include "site_selection.hpp"

namespace mmdebias::causalmm {

/// The grid of a sweep: every edit × γ × ε.
struct SweepGrid {
  std::vector<Edit> edits;
  std::vector<double> gammas, epsilons;
  bool empty() const { return edits.empty() || gammas.empty() || epsilons.empty(); }
};

/// A number as a metric-name part: "0.5", "1", "0.1".
inline std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

/// Logs, for each variant "<edit>/g<γ>/e<ε>", the number of correct in-distribution predictions of the batch,
/// overall (`sweep/<variant>/correct`) and per group (`sweep/<variant>/correct/group<g>`), and the counts they
/// are out of (`sweep/count`, `sweep/count/group<g>`). A correct count and its count are logged in the same
/// batches (per group: the batches holding the group), so with the host's mean over batches,
/// accuracy = mean(correct) / mean(count) exactly. The counts are tensors (read by the host when it flushes metrics); the
/// groups present are read here, as they name the metrics.
inline void log_sweep(const SweepGrid& grid, const std::vector<Level>& levels, int64_t samples,
                      const sdk::ForwardRecord& record, const at::Tensor& logits, const sdk::Batch& batch, sdk::Model& model,
                      at::Generator& gen, const std::function<void(const std::string&, const at::Tensor&)>& metric) {
  const at::Tensor id = batch.ood.defined() ? batch.ood.to(at::kBool).logical_not().to(logits.device())
                                            : at::ones({batch.size()}, logits.options().dtype(at::kBool));
  const at::Tensor label = batch.label.to(logits.device());
  const at::Tensor group = batch.group.defined() ? batch.group.to(logits.device()) : at::full({batch.size()}, -1, label.options());
  auto in_group = [&](int64_t g) { return id.logical_and(group.eq(g)); };
  std::vector<int64_t> groups;  // the groups present among the batch's in-distribution samples
  const at::Tensor present = std::get<0>(at::_unique(group.masked_select(id.logical_and(group.ge(0))).to(at::kCPU)));
  for (int64_t i = 0; i < present.numel(); ++i) groups.push_back(present[i].item<int64_t>());
  metric("sweep/count", id.sum());
  for (int64_t g : groups) metric("sweep/count/group" + std::to_string(g), in_group(g).sum());
  for (Edit edit : grid.edits) {
    std::vector<at::Tensor> cf;
    for (const auto& level : levels) cf.push_back(run_counterfactuals(batch, model, level.sites, edit, samples, gen, record.logits).mean_logits);
    for (double gamma : grid.gammas)
      for (double epsilon : grid.epsilons) {
        const at::Tensor correct = contrastive_prediction(logits, record.logits, cf, gamma, epsilon).argmax(-1).eq(label);
        const std::string name = "sweep/" + edit_names()[static_cast<size_t>(edit)] + "/g" + number_text(gamma) + "/e" + number_text(epsilon);
        metric(name + "/correct", correct.logical_and(id).sum());
        for (int64_t g : groups)
          metric(name + "/correct/group" + std::to_string(g), correct.logical_and(in_group(g)).sum());
      }
  }
}

}  // namespace mmdebias::causalmm
