// Validating a whole manifest against the loaded plugins before any compute: the host sections and component
// maps (manifest/), then the pipeline constructed and checked (pipeline/build.cpp, checks.cpp).
#pragma once

#include "manifest/resolved.hpp"
#include "mmdebias/core/manifest.hpp"
#include "pipeline/pipeline.hpp"

namespace mmdebias::core {

class Registry;

/// What validate_and_build returns.
struct ValidatedPipeline {
  ResolvedManifest resolved;  ///< The resolved manifest.
  BuiltPipeline pipeline;     ///< The constructed components.
};

/// Validates the whole manifest against the registry, constructing the components in pipeline order
/// (dataset, encoders, fusion, estimators, interventions, scorers). Throws InputErrors with every problem,
/// sorted by position, each "file:line:col: key.path: what is wrong".
ValidatedPipeline validate_and_build(const Manifest& manifest, const Registry& registry);

/// validate_and_build without the constructed pipeline.
ResolvedManifest validate_manifest(const Manifest& manifest, const Registry& registry);

}  // namespace mmdebias::core
