#include "mmdebias/core/evaluator.hpp"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "mmdebias/core/data_loader.hpp"
#include "mmdebias/core/guard.hpp"
#include "mmdebias/core/metrics.hpp"

namespace mmdebias::core {
namespace {

LoaderOptions loader_options(const RunState& state, const EvalOptions& options) {
  LoaderOptions lo;
  lo.batch_size = options.batch_size;
  lo.shuffle = false;
  lo.drop_last = false;
  lo.seed = state.seed;
  lo.rank = state.collective->rank();
  lo.world_size = state.collective->world_size();
  lo.threads = std::max(1, options.threads);
  return lo;
}

sdk::Batch to_device(sdk::Batch batch, c10::Device device) {
  if (device.is_cpu()) return batch;
  for (auto& kv : batch.inputs) kv.second = kv.second.to(device);
  batch.label = batch.label.to(device);
  return batch;
}

// Every rank's rows, in rank order; ranks hold disjoint samples so the concatenation is the whole split.
at::Tensor gather(RunState& state, const at::Tensor& t) { return state.collective->all_gather(t.contiguous()); }

}  // namespace

void fit_scorers(PipelineModel& model, RunState& state, const std::shared_ptr<sdk::Dataset>& train_data, const EvalOptions& options) {
  auto scorers = model.scorers();
  bool any = false;
  for (const auto& s : scorers) any = any || s.instance->object->needs_fit();
  if (!any) return;
  torch::NoGradGuard no_grad;
  model.root().eval();
  state.phase = sdk::Phase::Fit;
  DataLoader loader(train_data, loader_options(state, options));
  loader.start_epoch(0);
  while (auto batch = loader.next()) {
    if (batch->size() == 0) continue;
    sdk::Batch b = to_device(std::move(*batch), state.device);
    sdk::Estimates estimates;
    sdk::ForwardRecord record = model.forward_step(b, estimates);
    for (auto& s : scorers)
      if (s.instance->object->needs_fit())
        guarded(s.label, "fit", [&] { s.instance->object->fit(record, b, *s.context); });
  }
  for (auto& s : scorers)
    if (s.instance->object->needs_fit()) guarded(s.label, "finish_fit", [&] { s.instance->object->finish_fit(*s.context); });
}

nlohmann::json evaluate(PipelineModel& model, RunState& state, const std::shared_ptr<sdk::Dataset>& data, const EvalOptions& options) {
  torch::NoGradGuard no_grad;
  model.root().eval();
  state.phase = sdk::Phase::Eval;
  state.metrics.clear();
  auto scorers = model.scorers();
  DataLoader loader(data, loader_options(state, options));
  loader.start_epoch(0);

  std::vector<at::Tensor> logits, labels, groups, ood;
  std::map<std::string, std::vector<at::Tensor>> modality_logits, scores;
  while (auto batch = loader.next()) {
    if (batch->size() == 0) continue;
    sdk::Batch b = to_device(std::move(*batch), state.device);
    sdk::Estimates estimates;
    sdk::ForwardRecord record = model.forward_step(b, estimates);
    at::Tensor predicted = model.predict(record, b, estimates);
    logits.push_back(predicted.to(at::kCPU).to(at::kDouble));
    labels.push_back(b.label.to(at::kCPU));
    groups.push_back(b.group.to(at::kCPU));
    ood.push_back(b.ood.to(at::kCPU));
    for (const auto& kv : record.modality_logits) modality_logits[kv.first].push_back(kv.second.to(at::kCPU).to(at::kDouble));
    for (auto& s : scorers) {
      at::Tensor score = guarded(s.label, "score", [&] { return s.instance->object->score(record, predicted, *s.context); });
      scores[s.instance->name].push_back(score.to(at::kCPU).to(at::kDouble).reshape({-1}));
    }
  }
  nlohmann::json result;
  result["split"] = options.split;
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
  }
  result["count"] = all_labels.size(0);
  result["count_ood"] = all_ood.sum().item<int64_t>();
  if (all_ood.any().item<bool>() && id.any().item<bool>()) {
    nlohmann::json ood_json = nlohmann::json::object();
    for (const auto& kv : scores) ood_json[kv.first.substr(kv.first.find('.') + 1)] = to_json(ood_metrics(gather(state, at::cat(kv.second)), all_ood));
    result["ood"] = ood_json;
  }
  if (!state.metrics.empty()) result["components"] = state.metrics;
  state.metrics.clear();
  return result;
}

}  // namespace mmdebias::core
