// Free space on the run directory's filesystem against what a run will write, checked before training.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include <torch/nn/module.h>

#include "mmdebias/sdk/options.hpp"

namespace mmdebias::core {

/// Bytes an unprivileged writer may still use on the filesystem holding path (statvfs f_bavail), or
/// nullopt when statvfs fails (the check is then skipped: a failed write still leaves the last checkpoint).
std::optional<uint64_t> free_bytes(const std::filesystem::path& path);

/// What the run will need on disk at most at once.
struct SpaceNeed {
  uint64_t checkpoint_bytes = 0;  ///< One checkpoint, estimated: parameters, buffers and optimizer state.
  int checkpoints = 0;            ///< Checkpoints this run adds at its peak (kept ones + the one being written).
  uint64_t margin_bytes = 0;      ///< Logs, metrics, scores, summary, archive overhead.
  uint64_t total() const { return checkpoint_bytes * static_cast<uint64_t>(checkpoints) + margin_bytes; }
};

/// Estimates SpaceNeed for model trained with the train section's optimizer, keeping `keep` checkpoints,
/// `existing` of which are already in the run directory (a resumed run).
SpaceNeed estimate_space_need(const torch::nn::Module& model, const sdk::Options& train, int keep, int existing);

/// Throws InputError (exit 2) naming dir, the bytes needed and the bytes free when free < need.
void require_free_space(const std::filesystem::path& dir, const SpaceNeed& need);

/// The check before training: estimate_space_need for the checkpoints already in dir/checkpoints and
/// require_free_space on dir. keep is save_checkpoint's (its default, 2, unless the engine passes another).
void require_run_space(const std::filesystem::path& dir, const torch::nn::Module& model, const sdk::Options& train, int keep = 2);

/// "12.3 MiB (12897654 bytes)".
std::string bytes_text(uint64_t bytes);

}  // namespace mmdebias::core
