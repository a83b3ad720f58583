// Constructing the pipeline during validation, in order: dataset, encoders, fusion, then the rest, each
// with the ModelSpec as far as it is known. A failure is a validation error at the component's location,
// and parts that depend on a failed part are skipped (no cascade of noise).
#include "pipeline/build.hpp"

#include <algorithm>
#include <exception>
#include <set>

#include "common/cache_dir.hpp"
#include "common/text.hpp"
#include "pipeline/cost.hpp"
#include "pipeline/memory_budget.hpp"
#include "weights/state_file.hpp"

namespace mmdebias::core::detail {
namespace {

// init: then trainable / freeze, on the component as built; a fault is located at the key that asked for it.
bool apply_weight_settings(const ParsedComponent& c, torch::nn::Module& module, std::string& note, Diagnostics& diag) {
  const WeightSettings& w = c.weights;
  try {
    if (w.init) note = load_initial_weights(module, *w.init);
  } catch (const std::exception& e) {
    diag.error(join_path(c.path, "init"), yaml_child(c.node, "init").value_or(c.node), e.what());
    return false;
  }
  try {
    freeze_parameters(module, w);
  } catch (const std::exception& e) {
    diag.error(join_path(c.path, "freeze"), yaml_child(c.node, "freeze").value_or(c.node), e.what());
    return false;
  }
  return true;
}

template <class T, class Make>
bool construct(const ParsedComponent& c, const sdk::BuildArgs& args, Diagnostics& diag, Make make, Instance<T>& out) {
  const std::string type = c.entry->full_name;
  try {
    out.object = make(type, args);
    if (!out.object) throw std::runtime_error("the factory returned nothing");
  } catch (const std::exception& e) {
    diag.error(c.path, c.node, "cannot construct " + type + ": " + e.what());
    return false;
  }
  if constexpr (std::is_base_of_v<torch::nn::Module, T>) {
    if (!apply_weight_settings(c, *out.object, out.weights_note, diag)) return false;
  }
  out.name = c.instance;
  out.type = type;
  out.options = c.options;
  out.lr = c.lr;
  out.weight_decay = c.weight_decay;
  return true;
}

// How many times training holds each parameter byte: value, gradient and the optimizer's state.
int training_copies(const ParsedManifest& parsed) {
  std::string optimizer = "adam";
  double momentum = 0;
  if (auto train = parsed.sections.find("train"); train != parsed.sections.end()) {
    const auto& v = train->second.values;
    if (auto o = v.find("optimizer"); o != v.end() && std::holds_alternative<std::string>(o->second)) optimizer = std::get<std::string>(o->second);
    if (auto m = v.find("momentum"); m != v.end() && std::holds_alternative<double>(m->second)) momentum = std::get<double>(m->second);
  }
  return 2 + optimizer_state_slots(optimizer, momentum);
}

sdk::BuildArgs args_for(const ParsedComponent& c, const sdk::ModelSpec& model, uint64_t seed) {
  sdk::BuildArgs a;
  a.name = c.instance;
  a.options = c.options;
  a.model = model;
  a.modality = c.modality;
  a.seed = seed;
  a.cache_dir = data_cache_dir().string();
  return a;
}

std::vector<std::string> modality_names(const sdk::DatasetInfo& info) {
  std::vector<std::string> names;
  for (const auto& m : info.modalities) names.push_back(m.name);
  return names;
}

// eval.split must be one of the dataset's splits (when it lists them).
void check_eval_split(const ParsedManifest& parsed, const Manifest& manifest, const sdk::DatasetInfo& info,
                      Diagnostics& diag) {
  auto eval = parsed.sections.find("eval");
  if (eval == parsed.sections.end() || !eval->second.values.count("split") || info.splits.empty()) return;
  const auto& split = std::get<std::string>(eval->second.values.at("split"));
  for (const auto& s : info.splits)
    if (s == split) return;
  YAML::Node where = manifest.root();
  if (auto e = yaml_child(manifest.root(), "eval")) {
    where = *e;
    if (auto s = yaml_child(*e, "split")) where = *s;
  }
  diag.error("eval.split", where, "the dataset has no split '" + split + "'; its splits: " + join(info.splits) +
                                       did_you_mean(split, info.splits));
}

}  // namespace

std::vector<std::string> weight_notes(const BuiltPipeline& built) {
  std::vector<std::string> out;
  auto add = [&](const auto& instance) {
    if (!instance.weights_note.empty()) out.push_back(instance.name + ": " + instance.weights_note);
  };
  for (const auto& e : built.encoders) add(e);
  add(built.fusion);
  for (const auto& e : built.estimators) add(e);
  for (const auto& i : built.interventions) add(i);
  return out;
}

bool build_pipeline(const ParsedManifest& parsed, const Registry& registry, const Manifest& manifest,
                    Diagnostics& diag, BuiltPipeline& out) {
  uint64_t seed = 0;
  if (auto run = parsed.sections.find("run"); run != parsed.sections.end() && run->second.values.count("seed"))
    seed = static_cast<uint64_t>(std::get<int64_t>(run->second.values.at("seed")));

  // 1. Dataset: its modalities decide which encoders the model needs.
  if (!parsed.data || !parsed.data->ok) return false;
  sdk::BuildArgs data_args = args_for(*parsed.data, {}, seed);
  data_args.split = "train";
  auto make_dataset = [&](const std::string& t, const sdk::BuildArgs& a) { return registry.make_dataset(t, a); };
  if (!construct(*parsed.data, data_args, diag, make_dataset, out.dataset)) return false;
  try {
    out.dataset_info = out.dataset.object->info();
  } catch (const std::exception& e) {
    diag.error(parsed.data->path, parsed.data->node, "cannot read the dataset's info: " + std::string(e.what()));
    return false;
  }
  const sdk::DatasetInfo& info = out.dataset_info;
  check_eval_split(parsed, manifest, info, diag);
  // From here on the model's parts: each is refused at its allocation once it cannot fit for training.
  AllocationBudget budget(available_memory_bytes(), training_copies(parsed));
  out.model.inputs = info.modalities;
  out.model.num_classes = info.num_classes;
  if (!parsed.has_model) return false;

  // 2. Encoders: exactly one per dataset modality.
  const std::vector<std::string> modalities = modality_names(info);
  std::set<std::string> covered;
  bool encoders_ok = parsed.encoders_ok;
  for (const auto& e : parsed.encoders) {
    if (std::find(modalities.begin(), modalities.end(), e.modality) == modalities.end()) {
      YAML::Node key = yaml_key_node(*parsed.encoders_node, e.modality).value_or(e.node);
      diag.error(e.path, key, "the dataset has no modality '" + e.modality + "'; its modalities: " +
                                  join(modalities) + did_you_mean(e.modality, modalities));
      encoders_ok = false;
      continue;
    }
    covered.insert(e.modality);
  }
  for (const auto& m : modalities) {
    if (covered.count(m)) continue;
    const std::string path = "model.encoders";
    const YAML::Node where = parsed.encoders_node ? *parsed.encoders_node : parsed.model_node;
    diag.error(path, where, "modality '" + m + "' has no encoder (the dataset's modalities: " + join(modalities) + ")");
    encoders_ok = false;
  }
  auto make_encoder = [&](const std::string& t, const sdk::BuildArgs& a) { return registry.make_encoder(t, a); };
  for (const auto& m : modalities) {
    for (const auto& e : parsed.encoders) {
      if (e.modality != m) continue;
      if (!e.ok) { encoders_ok = false; continue; }
      Instance<sdk::Encoder> inst;
      if (!construct(e, args_for(e, out.model, seed), diag, make_encoder, inst)) { encoders_ok = false; continue; }
      try {
        out.model.features[m] = inst.object->output();
        for (const auto& s : inst.object->attention_sites()) out.model.attention_sites.push_back(s);
      } catch (const std::exception& ex) {
        diag.error(e.path, e.node, "cannot read the encoder's output: " + std::string(ex.what()));
        encoders_ok = false;
        continue;
      }
      out.encoders.push_back(std::move(inst));
    }
  }
  if (!encoders_ok || !parsed.fusion || !parsed.fusion->ok) return false;

  // 3. Fusion, on the encoders' features.
  auto make_fusion = [&](const std::string& t, const sdk::BuildArgs& a) { return registry.make_fusion(t, a); };
  if (!construct(*parsed.fusion, args_for(*parsed.fusion, out.model, seed), diag, make_fusion, out.fusion)) return false;
  try {
    out.model.fused_dim = out.fusion.object->fused_dim();
    for (const auto& s : out.fusion.object->attention_sites()) out.model.attention_sites.push_back(s);
  } catch (const std::exception& ex) {
    diag.error(parsed.fusion->path, parsed.fusion->node, "cannot read the fusion's shape: " + std::string(ex.what()));
    return false;
  }

  // 4. Everything else sees the whole model.
  auto build_list = [&](const std::vector<ParsedComponent>& list, auto make, auto& into) {
    for (const auto& c : list) {
      if (!c.ok) continue;
      typename std::decay_t<decltype(into)>::value_type inst;
      if (construct(c, args_for(c, out.model, seed), diag, make, inst)) into.push_back(std::move(inst));
    }
  };
  build_list(parsed.estimators, [&](const std::string& t, const sdk::BuildArgs& a) { return registry.make_bias_estimator(t, a); },
             out.estimators);
  build_list(parsed.interventions, [&](const std::string& t, const sdk::BuildArgs& a) { return registry.make_intervention(t, a); },
             out.interventions);
  build_list(parsed.scorers, [&](const std::string& t, const sdk::BuildArgs& a) { return registry.make_scorer(t, a); },
             out.scorers);
  build_list(parsed.sinks, [&](const std::string& t, const sdk::BuildArgs& a) { return registry.make_sink(t, a); },
             out.sinks);
  return true;
}

}  // namespace mmdebias::core::detail
