#include "pipeline/model.hpp"

#include <ATen/ATen.h>

#include "mmdebias/core/errors.hpp"
#include "mmdebias/sdk/precision.hpp"

namespace mmdebias::core {
namespace {

// Module names may not hold '.', and instance paths do ("interventions.reweight"): keep the last part.
std::string child_name(const std::string& instance) {
  std::string name = instance.substr(instance.find('.') == std::string::npos ? 0 : instance.find('.') + 1);
  for (char& c : name) if (c == '.') c = '_';
  return name.empty() ? "_" : name;
}

std::string plugin_of(const std::string& type) { return type.substr(0, type.find('.')); }

bool has(uint32_t hooks, sdk::Hook h) { return (hooks & h) != 0; }

}  // namespace

template <class T>
PipelineModel::Slot<T> PipelineModel::make_slot(const Instance<T>& instance) {
  return Slot<T>{&instance, ComponentLabel{plugin_of(instance.type), instance.name + " (" + instance.type + ")"},
                 std::make_unique<ComponentContext>(state_, instance.name, this)};
}

PipelineModel::PipelineModel(BuiltPipeline pipeline, RunState& state)
    : pipeline_(std::move(pipeline)), state_(state), root_(std::make_shared<torch::nn::Module>("Pipeline")),
      scorer_root_(std::make_shared<torch::nn::Module>("Scorers")) {
  auto group = [&](const char* name) { return root_->register_module(name, std::make_shared<torch::nn::Module>(name)); };
  auto encoders = group("encoders");
  for (const auto& e : pipeline_.encoders) {
    modalities_.push_back(e.name.substr(e.name.find('.') + 1));
    encoders->register_module(child_name(e.name), e.object);
    encoders_.push_back(make_slot(e));
  }
  root_->register_module("fusion", pipeline_.fusion.object);
  fusion_ = make_slot(pipeline_.fusion);
  auto estimators = group("estimators");
  for (const auto& e : pipeline_.estimators) {
    estimators->register_module(child_name(e.name), e.object);
    estimators_.push_back(make_slot(e));
  }
  auto interventions = group("interventions");
  for (const auto& i : pipeline_.interventions) {
    interventions->register_module(child_name(i.name), i.object);
    interventions_.push_back(make_slot(i));
  }
  for (const auto& s : pipeline_.scorers) {
    scorer_root_->register_module(child_name(s.name), s.object);
    scorers_.push_back(make_slot(s));
  }
}

sdk::Encoder& PipelineModel::encoder(const std::string& modality) {
  for (size_t i = 0; i < modalities_.size(); ++i)
    if (modalities_[i] == modality) return *encoders_[i].instance->object;
  throw std::out_of_range("no encoder for modality '" + modality + "'");
}

sdk::ForwardRecord PipelineModel::forward(const sdk::Batch& batch, const sdk::AttentionSites& sites) {
  ++(state_.phase == sdk::Phase::Train ? train_forward_calls_ : other_forward_calls_);
  Autocast autocast(state_.precision, state_.device);  // a component's own pass, wherever it is made
  return run_forward(batch, sites, nullptr);
}

StepOutput PipelineModel::train_forward(sdk::Batch& batch) {
  Autocast autocast(state_.precision, state_.device);
  on_batch(batch);
  StepOutput out;
  out.record = forward_step(batch, out.estimates);
  out.loss = loss(out.record, batch, out.estimates);
  return out;
}

void PipelineModel::on_batch(sdk::Batch& batch) {
  for (auto& s : interventions_)
    if (has(s.instance->object->hooks(), sdk::kOnBatch))
      guarded(s.label, "on_batch", [&] { s.instance->object->on_batch(batch, *s.context); });
}

sdk::ForwardRecord PipelineModel::forward_step(const sdk::Batch& batch, sdk::Estimates& estimates) {
  estimates.clear();
  sdk::AttentionSites sites;
  for (auto& s : interventions_)  // 3: overrides are installed before the encoders run
    if (has(s.instance->object->hooks(), sdk::kAtAttention))
      guarded(s.label, "at_attention", [&] { s.instance->object->at_attention(sites, *s.context); });
  return run_forward(batch, sites, &estimates);
}

// The forward pass; with estimates, also hooks 2, 4a, 4 and 5 (without, the plain model of sdk::Model).
sdk::ForwardRecord PipelineModel::run_forward(const sdk::Batch& batch, const sdk::AttentionSites& sites, sdk::Estimates* estimates) {
  const bool hooks = estimates != nullptr;
  sdk::ForwardRecord record;
  for (size_t i = 0; i < encoders_.size(); ++i) {
    const auto& slot = encoders_[i];
    const std::string& m = modalities_[i];
    auto input = batch.inputs.find(m);
    if (input == batch.inputs.end()) throw RunError("the batch has no input for modality '" + m + "'");
    at::Tensor z = guarded(slot.label, "encode", [&] { return slot.instance->object->encode(input->second, sites); });
    if (hooks)
      for (auto& s : interventions_)  // 2
        if (has(s.instance->object->hooks(), sdk::kOnFeatures))
          z = guarded(s.label, "on_features", [&] { return s.instance->object->on_features(m, z, *s.context); });
    record.features[m] = z;
  }
  auto& fusion = *fusion_.instance->object;
  record.fused_input = guarded(fusion_.label, "fuse", [&] { return fusion.fuse(record.features, sites); });
  record.fused = record.fused_input;
  if (hooks) {
    observe(record, *estimates, /*fused_only=*/true);  // 4a
    for (auto& s : interventions_)  // 4
      if (has(s.instance->object->hooks(), sdk::kOnFused))
        record.fused = guarded(s.label, "on_fused", [&] { return s.instance->object->on_fused(record.fused, *estimates, *s.context); });
  }
  // Logits are fp32 under every precision (sdk/precision.hpp): every softmax, entropy and divergence a hook takes of
  // them, and the task loss, are then fp32 without each component casting.
  record.logits = sdk::fp32(guarded(fusion_.label, "head", [&] { return fusion.head(record.fused); }));
  if (fusion.has_modality_heads() && (state_.phase != sdk::Phase::Train || pipeline_.training_needs_modality_logits))
    for (const auto& m : modalities_)
      record.modality_logits[m] = sdk::fp32(guarded(fusion_.label, "modality_head", [&] { return fusion.modality_head(m, record.features.at(m)); }));
  record.attention = sites.recorded();
  if (hooks) observe(record, *estimates, /*fused_only=*/false);  // 5
  return record;
}

void PipelineModel::observe(const sdk::ForwardRecord& record, sdk::Estimates& estimates, bool fused_only) {
  const char* hook = fused_only ? "observe_fused" : "observe";
  for (auto& s : estimators_) {
    std::map<std::string, at::Tensor> previous = estimates.all();
    guarded(s.label, hook, [&] {
      if (fused_only) s.instance->object->observe_fused(record, estimates, *s.context);
      else s.instance->object->observe(record, estimates, *s.context);
    });
    // Two estimators may not publish the same name: the later one would silently win.
    for (const auto& kv : previous)
      if (!estimates.has(kv.first) || !estimates.get(kv.first).is_same(kv.second))
        throw ComponentError(s.label.plugin, s.label.component, hook, "it overwrote estimate '" + kv.first + "' published by another estimator");
  }
}

StepLoss PipelineModel::loss(const sdk::ForwardRecord& record, const sdk::Batch& batch, const sdk::Estimates& estimates) {
  sdk::LossTerms terms;
  std::vector<std::string> owners;  // which instance added each term
  auto collect = [&](auto& slot, auto&& call) {
    size_t before = terms.terms().size();
    guarded(slot.label, "loss", [&] { call(); });
    for (size_t i = before; i < terms.terms().size(); ++i) {
      // Steps are reduced and logged by term name: one name, one term.
      for (size_t j = before; j < i; ++j)
        if (terms.terms()[j].name == terms.terms()[i].name)
          throw ComponentError(slot.label.plugin, slot.label.component, "loss",
                               "it added the loss term '" + terms.terms()[i].name + "' twice in one step; give each term its own name");
      owners.push_back(slot.instance->name);
    }
  };
  for (auto& s : estimators_)
    collect(s, [&] { s.instance->object->loss(record, batch, estimates, terms, *s.context); });
  for (auto& s : interventions_)
    if (has(s.instance->object->hooks(), sdk::kLoss))
      collect(s, [&] { s.instance->object->loss(record, batch, estimates, *this, terms, *s.context); });

  StepLoss out;
  at::Tensor task = at::cross_entropy_loss(record.logits, batch.label);
  out.parts.emplace_back("task", task);
  // A weight of 1 multiplies nothing: x * 1 is x bitwise, and the op, its scalar wrapping and its backward cost
  // ~1.5% of a small model's step (perf, bench/run section 1).
  auto weighted = [](const at::Tensor& value, double weight) { return weight == 1.0 ? value : value * weight; };
  out.total = weighted(task, terms.task_weight());
  for (size_t i = 0; i < terms.terms().size(); ++i) {
    const auto& t = terms.terms()[i];
    std::string name = instance_name(owners[i]) + "/" + t.name;
    out.parts.emplace_back(name, t.value.reshape({}));
    out.total = out.total + weighted(t.value.reshape({}), t.weight);
  }
  return out;
}

bool PipelineModel::edits_gradients() const {
  for (const auto& s : interventions_)
    if (has(s.instance->object->hooks(), sdk::kAfterBackward)) return true;
  return false;
}

void PipelineModel::after_backward(const sdk::StepRecords& step, const std::function<void(const ComponentLabel&)>& after_each) {
  for (auto& s : interventions_) {
    if (!has(s.instance->object->hooks(), sdk::kAfterBackward)) continue;
    guarded(s.label, "after_backward", [&] { s.instance->object->after_backward(step, *this, *s.context); });
    if (after_each) after_each(s.label);
  }
}

void PipelineModel::on_step_end() {
  for (auto& s : estimators_) guarded(s.label, "on_step_end", [&] { s.instance->object->on_step_end(*s.context); });
  for (auto& s : interventions_)
    if (has(s.instance->object->hooks(), sdk::kOnStepEnd))
      guarded(s.label, "on_step_end", [&] { s.instance->object->on_step_end(*s.context); });
}

bool PipelineModel::adjusts_predictions() const {
  for (const auto& s : interventions_)
    if (has(s.instance->object->hooks(), sdk::kPredict)) return true;
  return false;
}

at::Tensor PipelineModel::predict(const sdk::ForwardRecord& record, const sdk::Batch& batch, const sdk::Estimates& estimates) {
  at::Tensor logits = record.logits;
  for (auto& s : interventions_)
    if (has(s.instance->object->hooks(), sdk::kPredict))
      logits = guarded(s.label, "predict", [&] { return s.instance->object->predict(record, logits, batch, estimates, *this, *s.context); });
  return logits;
}

std::vector<ParameterGroup> PipelineModel::parameter_groups() const {
  std::vector<ParameterGroup> groups;
  auto add = [&](const auto& instance) {
    ParameterGroup g{instance.name, {}, instance.lr, instance.weight_decay};
    for (const auto& p : instance.object->parameters())
      if (p.requires_grad()) g.parameters.push_back(p);
    if (!g.parameters.empty()) groups.push_back(std::move(g));
  };
  for (const auto& e : pipeline_.encoders) add(e);
  add(pipeline_.fusion);
  for (const auto& e : pipeline_.estimators) add(e);
  for (const auto& i : pipeline_.interventions) add(i);
  return groups;
}

std::vector<PipelineModel::ScorerSlot> PipelineModel::scorers() {
  std::vector<ScorerSlot> out;
  for (auto& s : scorers_) out.push_back({s.instance, s.label, s.context.get()});
  return out;
}

}  // namespace mmdebias::core
