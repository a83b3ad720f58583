// Validation of a whole manifest: host sections and component maps (manifest/sections.cpp), then the pipeline
// built through the registry and checked (build.cpp, checks.cpp), and the resolved manifest it yields.
#include "pipeline/validate.hpp"

#include "mmdebias/core/validate.hpp"

#include "manifest/parsed.hpp"
#include "pipeline/build.hpp"
#include "pipeline/precision.hpp"
#include "plugin/registry.hpp"

namespace mmdebias::core {
namespace {

// A precision the named device cannot run (fp16 on the CPU), at run.precision's line; run.device itself is resolved
// when a run starts (the machine that validates may have no GPU).
void check_precision(const Manifest& manifest, const detail::ParsedManifest& parsed, Diagnostics& diag) {
  const auto& run = parsed.sections.at("run").values;
  auto precision = run.find("precision"), device = run.find("device");
  if (precision == run.end() || device == run.end()) return;  // already reported
  const std::string refusal = precision_refusal(parse_precision(std::get<std::string>(precision->second)),
                                                std::get<std::string>(device->second));
  if (refusal.empty()) return;
  auto section = yaml_child(manifest.root(), "run");
  auto node = section ? yaml_child(*section, "precision") : std::nullopt;
  diag.error("run.precision", node ? *node : manifest.root(), refusal);
}

}  // namespace

ValidatedPipeline validate_and_build(const Manifest& manifest, const Registry& registry) {
  Diagnostics diag(manifest);
  detail::ParsedManifest parsed = detail::parse_manifest(manifest, registry, diag);
  check_precision(manifest, parsed, diag);
  ValidatedPipeline out;
  if (detail::build_pipeline(parsed, registry, manifest, diag, out.pipeline))
    detail::check_pipeline(parsed, out.pipeline, registry, diag);
  diag.throw_if_any();
  // Per-modality heads cost a few percent of a small model's step (bench/run section 1): computed in training
  // only for the components that declare they read them.
  out.pipeline.training_needs_modality_logits = false;
  for (const auto* list : {&parsed.estimators, &parsed.interventions})
    for (const auto& c : *list)
      for (const auto& need : c.entry ? c.entry->decl.needs : std::vector<std::string>{})
        out.pipeline.training_needs_modality_logits =
            out.pipeline.training_needs_modality_logits || need == sdk::capability::kModalityLogits;

  out.resolved.config = detail::resolved_config(parsed);
  for (const auto& name : {"plugins", "train", "eval", "run"})
    out.resolved.sections[name] = sdk::Options(parsed.sections.at(name).values);
  out.resolved.plugins = detail::plugin_provenance(parsed);
  out.resolved.hooks = detail::hook_order(out.pipeline);
  return out;
}

ResolvedManifest validate_manifest(const Manifest& manifest, const Registry& registry) {
  return validate_and_build(manifest, registry).resolved;
}

ValidateReport validate_report(const Manifest& manifest, const PluginHost& plugins) {
  ValidatedPipeline v = validate_and_build(manifest, plugins.registry());
  v.resolved.libraries = library_provenance(plugins);
  std::string weights;
  for (const auto& note : detail::weight_notes(v.pipeline)) weights += "# init " + note + "\n";
  return {emit_yaml(v.resolved) + format_hook_order(v.resolved) + weights, v.pipeline.dataset_info.warnings};
}

}  // namespace mmdebias::core
