#include "eval/evaluator.hpp"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "eval/metrics.hpp"
#include "plugin/guard.hpp"
#include "train/data_loader.hpp"
#include "train/device_copy.hpp"

namespace mmdebias::core {
namespace {

// Every sample of split once, in order.
LoaderOptions loader_options(const RunState& state, const EvalOptions& options, const std::string& split) {
  LoaderOptions lo = LoaderOptions::for_rank(options.batch_size, state.seed, state.collective->rank(),
                                             state.collective->world_size(), options.threads);
  lo.shuffle = false;
  lo.drop_last = false;
  lo.device = state.device;
  lo.skipped = state.skipped.get();
  lo.split = split;
  return lo;
}

// Every rank's rows, in rank order; ranks hold disjoint samples so the concatenation is the whole split.
at::Tensor gather(RunState& state, const at::Tensor& t) { return state.collective->all_gather(t.contiguous()); }

// Components publish a value per batch; at evaluation the result is the mean over every batch of every rank.
class MetricAverages {
 public:
  // One read of the batch's tensor metrics (a single transfer), then summed in double as before.
  void fold(MetricStore& metrics) {
    for (const auto& kv : metrics.take()) {
      auto& [sum, count] = totals_[kv.first];
      sum += kv.second;
      count += 1;
    }
  }
  nlohmann::json mean(RunState& state) const {
    nlohmann::json out = nlohmann::json::object();
    const int64_t n = static_cast<int64_t>(totals_.size());
    at::Tensor sums = at::zeros({2 * n}, at::kDouble);
    int64_t i = 0;
    for (const auto& kv : totals_) {
      sums[i] = kv.second.first;
      sums[n + i++] = kv.second.second;
    }
    if (state.collective->world_size() > 1) {
      // Ranks hold the same components, but a rank without batches published nothing: reduce only
      // when every rank has the same names, else report this rank's means.
      at::Tensor sizes = at::full({1}, static_cast<double>(n), at::kDouble);
      state.collective->all_reduce_sum(sizes);
      if (sizes.item<double>() == static_cast<double>(n * state.collective->world_size())) state.collective->all_reduce_sum(sums);
    }
    i = 0;
    for (const auto& kv : totals_) {
      out[kv.first] = sums[i].item<double>() / std::max(1.0, sums[n + i].item<double>());
      ++i;
    }
    return out;
  }
  bool empty() const { return totals_.empty(); }

 private:
  std::map<std::string, std::pair<double, double>> totals_;
};

}  // namespace

void fit_scorers(PipelineModel& model, RunState& state, const std::shared_ptr<sdk::Dataset>& train_data, const EvalOptions& options,
                 const std::set<std::string>& already_fitted) {
  auto scorers = model.scorers();
  auto fits = [&](const PipelineModel::ScorerSlot& s) { return s.instance->object->needs_fit() && already_fitted.count(s.instance->name) == 0; };
  bool any = false;
  for (const auto& s : scorers) any = any || fits(s);
  if (!any) return;
  torch::NoGradGuard no_grad;
  model.root().eval();
  state.phase = sdk::Phase::Fit;
  DataLoader loader(train_data, loader_options(state, options, "train"));
  loader.start_epoch(0);
  Autocast autocast(state.precision, state.device);  // the forward and the fit hooks, as in training
  while (auto batch = loader.next()) {
    if (batch->size() == 0) continue;
    sdk::Batch b = to_device(std::move(*batch), state.device);
    sdk::Estimates estimates;
    sdk::ForwardRecord record = model.forward_step(b, estimates);
    for (auto& s : scorers)
      if (fits(s)) guarded(s.label, "fit", [&] { s.instance->object->fit(record, b, *s.context); });
  }
  state.metrics.clear();
  for (auto& s : scorers)
    if (fits(s)) guarded(s.label, "finish_fit", [&] { s.instance->object->finish_fit(*s.context); });
}

nlohmann::json evaluate(PipelineModel& model, RunState& state, const std::shared_ptr<sdk::Dataset>& data, const EvalOptions& options,
                        SampleScores* samples) {
  torch::NoGradGuard no_grad;
  model.root().eval();
  state.phase = sdk::Phase::Eval;
  state.metrics.clear();
  auto scorers = model.scorers();
  DataLoader loader(data, loader_options(state, options, options.split));
  loader.start_epoch(0);

  const bool adjusts = model.adjusts_predictions();
  MetricAverages metric_averages;
  std::vector<at::Tensor> logits, factual_logits, labels, groups, ood;
  std::map<std::string, std::vector<at::Tensor>> modality_logits, scores;
  const int64_t calls_before = model.other_forward_calls();
  int64_t batches = 0;
  Autocast autocast(state.precision, state.device);  // the forward, hook 8 and the scorers, as in training
  while (auto batch = loader.next()) {
    if (batch->size() == 0) continue;
    ++batches;
    sdk::Batch b = to_device(std::move(*batch), state.device);
    sdk::Estimates estimates;
    sdk::ForwardRecord record = model.forward_step(b, estimates);
    at::Tensor predicted = model.predict(record, b, estimates);
    logits.push_back(predicted.to(at::kCPU).to(at::kDouble));
    if (adjusts) factual_logits.push_back(record.logits.to(at::kCPU).to(at::kDouble));
    labels.push_back(b.label.to(at::kCPU));
    groups.push_back(b.group.to(at::kCPU));
    ood.push_back(b.ood.to(at::kCPU));
    for (const auto& kv : record.modality_logits) modality_logits[kv.first].push_back(kv.second.to(at::kCPU).to(at::kDouble));
    for (auto& s : scorers) {
      at::Tensor score = guarded(s.label, "score", [&] { return s.instance->object->score(record, predicted, *s.context); });
      scores[s.instance->name].push_back(score.to(at::kCPU).to(at::kDouble).reshape({-1}));
    }
    metric_averages.fold(state.metrics);
  }
  nlohmann::json result;
  result["split"] = options.split;
  // What the components' extra passes cost here, to check `validate --cost` against (this rank's batches).
  result["host"] = {{"batches", batches}, {"model_forward_calls", model.other_forward_calls() - calls_before}};
  if (logits.empty()) {
    result["count"] = 0;
    return result;
  }
  at::Tensor all_logits = gather(state, at::cat(logits)), all_labels = gather(state, at::cat(labels));
  at::Tensor all_groups = gather(state, at::cat(groups)), all_ood = gather(state, at::cat(ood)).to(at::kBool);
  at::Tensor id = all_ood.logical_not();
  int64_t num_classes = model.pipeline().model.num_classes;

  if (id.any().item<bool>()) {
    ClassificationMetrics cls = classification_metrics(all_logits.index({id}), all_labels.index({id}), all_groups.index({id}), num_classes);
    result["classification"] = to_json(cls);
    nlohmann::json per_modality = nlohmann::json::object();
    for (const auto& kv : modality_logits)
      per_modality[kv.first] = accuracy_of(gather(state, at::cat(kv.second)).index({id}), all_labels.index({id}));
    result["per_modality_accuracy"] = per_modality;
    if (adjusts) {  // what the model predicts before any intervention's hook 8, side by side
      at::Tensor factual = gather(state, at::cat(factual_logits));
      result["factual"] = {{"classification", to_json(classification_metrics(factual.index({id}), all_labels.index({id}),
                                                                              all_groups.index({id}), num_classes))}};
    }
  }
  result["count"] = all_labels.size(0);
  result["count_ood"] = all_ood.sum().item<int64_t>();
  std::map<std::string, at::Tensor> all_scores;  // short name -> every rank's scores
  for (const auto& kv : scores) all_scores[kv.first.substr(kv.first.find('.') + 1)] = gather(state, at::cat(kv.second));
  if (all_ood.any().item<bool>() && id.any().item<bool>()) {
    nlohmann::json ood_json = nlohmann::json::object();
    for (const auto& kv : all_scores) ood_json[kv.first] = to_json(ood_metrics(kv.second, all_ood));
    result["ood"] = ood_json;
  }
  if (samples) *samples = {all_ood, all_labels.to(at::kLong), all_logits.argmax(1), all_scores};
  if (!metric_averages.empty()) result["components"] = metric_averages.mean(state);
  return result;
}

}  // namespace mmdebias::core
