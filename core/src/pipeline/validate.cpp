// Validation of a whole manifest: host sections and component maps (manifest/sections.cpp), then the pipeline
// built through the registry and checked (build.cpp, checks.cpp), and the resolved manifest it yields.
#include "pipeline/validate.hpp"

#include "mmdebias/core/validate.hpp"

#include "manifest/parsed.hpp"
#include "pipeline/build.hpp"
#include "plugin/registry.hpp"

namespace mmdebias::core {

ValidatedPipeline validate_and_build(const Manifest& manifest, const Registry& registry) {
  Diagnostics diag(manifest);
  detail::ParsedManifest parsed = detail::parse_manifest(manifest, registry, diag);
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
  return {emit_yaml(v.resolved) + format_hook_order(v.resolved), v.pipeline.dataset_info.warnings};
}

}  // namespace mmdebias::core
