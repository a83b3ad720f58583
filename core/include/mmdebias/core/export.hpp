// `mmdebias export`: a run's trained inference pipeline taken out of mmdebias, for PyTorch users.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mmdebias/core/manifest.hpp"
#include "mmdebias/core/plugin_host.hpp"

namespace mmdebias::core {

/// Writes into out_dir (which must not exist, or be empty) the run's latest checkpoint (or the one named) as
/// model.pt (TorchScript: torch.jit.load(...)({"modality": tensor, ...}) -> logits), weights.safetensors (every
/// parameter and buffer by its checkpoint name), pipeline.json (the pipeline's description) and samples.pt (torch.load:
/// the first evaluation samples' inputs with mmdebias's logits for them). Returns pipeline.json's content.
/// Throws InputError when the prediction cannot be one fixed module (naming the interventions and why).
nlohmann::json export_run(const std::filesystem::path& run_dir, const std::filesystem::path& out_dir,
                          const std::vector<Override>& overrides, SearchPath search, const std::string& checkpoint);

}  // namespace mmdebias::core
