// Cost estimate of a built pipeline: sizes read from the modules, extra passes from each component's cost().
#include "pipeline/cost.hpp"

#include <algorithm>
#include <iomanip>
#include <sstream>

#include <nlohmann/json.hpp>

#include "mmdebias/core/validate.hpp"
#include "pipeline/precision.hpp"
#include "pipeline/validate.hpp"
#include "plugin/guard.hpp"

namespace mmdebias::core {
namespace {

/// Sizes of one module tree; `trained` says whether its parameters get gradients and optimizer state.
/// cast_element: bytes autocast's copy of a trained parameter element takes for a step (0 under fp32).
template <class T>
ComponentCost sized(const Instance<T>& inst, bool trained, int64_t optimizer_slots, int64_t cast_element, int64_t& cast_bytes) {
  ComponentCost c;
  c.instance = inst.name;
  c.type = inst.type;
  int64_t bytes = 0;
  for (const auto& p : inst.object->parameters()) {
    if (!p.requires_grad()) continue;
    c.parameters += p.numel();
    // The value, then (when trained) its gradient and the optimizer's per-parameter state, all of its dtype.
    bytes += p.numel() * static_cast<int64_t>(p.element_size()) * (trained ? 2 + optimizer_slots : 1);
    // Under bf16/fp16 the forward casts each weight it multiplies once and keeps the cast until the step ends (an
    // upper bound: weights only elementwise ops use are not cast).
    if (trained && p.is_floating_point()) {
      bytes += p.numel() * cast_element;
      cast_bytes += p.numel() * cast_element;
    }
  }
  for (const auto& b : inst.object->buffers()) {
    c.buffer_scalars += b.numel();
    bytes += b.numel() * static_cast<int64_t>(b.element_size());
  }
  c.memory_bytes = bytes;
  c.extra = guarded({inst.type.substr(0, inst.type.find('.')), inst.name + " (" + inst.type + ")"}, "cost",
                    [&] { return inst.object->cost(); });
  return c;
}

}  // namespace

int optimizer_state_slots(const std::string& optimizer, double momentum) {
  return optimizer == "sgd" ? (momentum > 0 ? 1 : 0) : 2;
}

CostEstimate estimate_cost(const BuiltPipeline& p, const ResolvedManifest& resolved) {
  CostEstimate out;
  const sdk::Options& train = resolved.sections.at("train");
  const sdk::Options& eval = resolved.sections.at("eval");
  out.train_batch = train.integer("batch_size");
  out.eval_batch = eval.integer("batch_size");
  const std::string opt = train.string("optimizer");
  out.optimizer_slots = optimizer_state_slots(opt, train.number("momentum"));
  const Precision precision = parse_precision(resolved.sections.at("run").string("precision"));
  out.precision = precision_name(precision);
  const int64_t cast = precision == Precision::fp32 ? 0 : static_cast<int64_t>(c10::elementSize(compute_dtype(precision)));
  for (const auto& e : p.encoders) out.components.push_back(sized(e, true, out.optimizer_slots, cast, out.cast_bytes));
  out.components.push_back(sized(p.fusion, true, out.optimizer_slots, cast, out.cast_bytes));
  for (const auto& e : p.estimators) out.components.push_back(sized(e, true, out.optimizer_slots, cast, out.cast_bytes));
  for (const auto& i : p.interventions) out.components.push_back(sized(i, true, out.optimizer_slots, cast, out.cast_bytes));
  for (const auto& s : p.scorers) out.components.push_back(sized(s, false, 0, 0, out.cast_bytes));
  // The step's own pass: one forward; the head sees B rows, each modality head B more when the fusion has them.
  const int64_t heads = 1 + (p.fusion.object->has_modality_heads() ? static_cast<int64_t>(p.encoders.size()) : 0);
  out.train_forwards = 1;
  out.eval_forwards = 1;
  out.train_head_rows = heads * out.train_batch;
  out.eval_head_rows = heads * out.eval_batch;
  for (const auto& c : out.components) {
    out.parameters += c.parameters;
    out.memory_bytes += c.memory_bytes;
    // A whole-model pass goes through every head too.
    out.train_forwards += c.extra.train_forwards;
    out.train_head_rows += c.extra.train_forwards * heads * out.train_batch + c.extra.train_head_rows * out.train_batch +
                           c.extra.train_head_rows_fixed;
    out.eval_forwards += c.extra.eval_forwards;
    out.eval_head_rows += c.extra.eval_forwards * heads * out.eval_batch + c.extra.eval_head_rows * out.eval_batch;
  }
  return out;
}

std::string format_cost(const CostEstimate& c) {
  std::ostringstream out;
  out << "cost estimate (built, not run; train batch " << c.train_batch << ", eval batch " << c.eval_batch
      << ", optimizer state " << c.optimizer_slots << " tensor(s) per parameter, precision " << c.precision << ")\n";
  size_t wi = 10, wt = 5;  // column widths: the longest instance and type, plus a gap
  for (const auto& k : c.components) wi = std::max(wi, k.instance.size() + 2), wt = std::max(wt, k.type.size() + 2);
  const int iw = static_cast<int>(wi), tw = static_cast<int>(wt);
  out << std::left << std::setw(iw) << "component" << std::setw(tw) << "type" << std::right << std::setw(10) << "params"
      << std::setw(11) << "memory KiB" << std::setw(13) << "train passes" << std::setw(12) << "train rows"
      << std::setw(12) << "eval passes" << "\n";
  for (const auto& k : c.components) {
    std::string rows = "+" + std::to_string(k.extra.train_head_rows) + "B";
    if (k.extra.train_head_rows_fixed) rows += "+" + std::to_string(k.extra.train_head_rows_fixed);
    out << std::left << std::setw(iw) << k.instance << std::setw(tw) << k.type << std::right << std::setw(10) << k.parameters
        << std::setw(11) << std::fixed << std::setprecision(1) << k.memory_bytes / 1024.0 << std::setw(13)
        << ("+" + std::to_string(k.extra.train_forwards)) << std::setw(12) << rows << std::setw(12)
        << ("+" + std::to_string(k.extra.eval_forwards)) << "\n";
  }
  out << "total: " << c.parameters << " parameters, " << std::fixed << std::setprecision(1) << c.memory_bytes / 1048576.0
      << " MiB parameters + gradients + optimizer state + buffers"
      << (c.cast_bytes ? " + " + std::to_string(c.cast_bytes / 1024) + " KiB of " + c.precision + " weight casts" : std::string())
      << "; per training step " << c.train_forwards
      << " model pass(es), " << c.train_head_rows << " head rows; per evaluation batch " << c.eval_forwards
      << " model pass(es), " << c.eval_head_rows << " head rows\n";
  return out.str();
}

std::string cost_json(const CostEstimate& c) {
  nlohmann::json j;
  j["train_batch"] = c.train_batch;
  j["eval_batch"] = c.eval_batch;
  j["optimizer_slots"] = c.optimizer_slots;
  j["precision"] = c.precision;
  j["cast_bytes"] = c.cast_bytes;
  j["parameters"] = c.parameters;
  j["memory_bytes"] = c.memory_bytes;
  j["train_forwards"] = c.train_forwards;
  j["train_head_rows"] = c.train_head_rows;
  j["eval_forwards"] = c.eval_forwards;
  j["eval_head_rows"] = c.eval_head_rows;
  for (const auto& k : c.components)
    j["components"].push_back({{"instance", k.instance},
                               {"type", k.type},
                               {"parameters", k.parameters},
                               {"buffer_scalars", k.buffer_scalars},
                               {"memory_bytes", k.memory_bytes},
                               {"train_forwards", k.extra.train_forwards},
                               {"train_head_rows_per_sample", k.extra.train_head_rows},
                               {"train_head_rows_fixed", k.extra.train_head_rows_fixed},
                               {"eval_forwards", k.extra.eval_forwards},
                               {"eval_head_rows_per_sample", k.extra.eval_head_rows}});
  return j.dump(2) + "\n";
}

std::string cost_report(const Manifest& manifest, const PluginHost& plugins, bool json) {
  ValidatedPipeline v = validate_and_build(manifest, plugins.registry());
  CostEstimate cost = estimate_cost(v.pipeline, v.resolved);
  return json ? cost_json(cost) : format_cost(cost);
}

}  // namespace mmdebias::core
