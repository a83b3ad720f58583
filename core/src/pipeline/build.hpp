// Constructing a parsed manifest's components into a pipeline, and the checks that need them built.
#pragma once

#include <vector>

#include "manifest/diagnostics.hpp"
#include "manifest/parsed.hpp"
#include "pipeline/pipeline.hpp"

namespace mmdebias::core::detail {

/// Constructs the pipeline in order, reporting construction failures and model mismatches; returns true when
/// the dataset, encoders and fusion were all built (the later checks need them).
bool build_pipeline(const ParsedManifest& parsed, const Registry& registry, const Manifest& manifest,
                    Diagnostics& diag, BuiltPipeline& out);

/// "encoders.audio: loaded 62 of 62 tensors from ..." for each component whose manifest set init:.
std::vector<std::string> weight_notes(const BuiltPipeline& built);

/// Needs vs provides, exclusive hooks and attention sites (only on a built model).
void check_pipeline(const ParsedManifest& parsed, const BuiltPipeline& built, const Registry& registry,
                    Diagnostics& diag);

/// Which instances run at each hook, in manifest order.
std::vector<HookSlot> hook_order(const BuiltPipeline& built);

}  // namespace mmdebias::core::detail
