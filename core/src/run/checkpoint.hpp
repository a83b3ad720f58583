// Checkpoints: everything needed to continue a run exactly, written atomically and verified on load.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include "common/atomic_file.hpp"
#include "train/loss_scaler.hpp"
#include "train/position.hpp"

namespace mmdebias::core {

/// The contents of a checkpoint other than the module and optimizer state.
struct CheckpointMeta {
  RunPosition position;                       ///< Where to continue.
  std::string resolved_manifest;              ///< The resolved manifest (YAML) the run was started with.
  std::vector<std::string> rng_by_rank;       ///< Each rank's RNG streams, packed by pack_rng (index = rank).
  std::optional<LossScaleState> loss_scale;   ///< The loss scale, where the run has one (run.loss_scale).
  std::string skipped_samples;                ///< on_bad_sample: skip: every rank's SkippedSamples as JSON ("" when off).
};

/// Writes model, optimizer and meta to dir/ckpt-<step>.pt atomically (temp file, fsync, rename) with a
/// .sha256 sidecar, then points dir/latest at it and removes all but the newest `keep` checkpoints.
/// Returns the checkpoint's path.
std::filesystem::path save_checkpoint(const std::filesystem::path& dir, torch::nn::Module& model,
                                      torch::optim::Optimizer& optimizer, const CheckpointMeta& meta, int keep = 2);

/// The checkpoint dir/latest points at, or nullopt when the run has none.
std::optional<std::filesystem::path> latest_checkpoint(const std::filesystem::path& dir);
/// The checkpoint name that pointer (a checkpoints/latest file) holds, whitespace removed; read with a bound
/// and without following a symlink (InputError otherwise).
std::string read_checkpoint_pointer(const std::filesystem::path& pointer);

/// Reads only the meta of a checkpoint (to compare manifests before loading state).
CheckpointMeta read_checkpoint_meta(const std::filesystem::path& file);

/// Restores model and optimizer state and returns the meta. Throws InputError naming the file on a
/// checksum mismatch, a truncated or corrupt file, or state that is missing or shaped differently.
CheckpointMeta load_checkpoint(const std::filesystem::path& file, torch::nn::Module& model, torch::optim::Optimizer& optimizer);

/// Packs RNG stream states (name -> state; "default" = LibTorch's global CPU generator) into bytes.
std::string pack_rng(const std::map<std::string, at::Tensor>& states);

/// Unpacks what pack_rng packed.
std::map<std::string, at::Tensor> unpack_rng(const std::string& bytes);

/// SHA-256 over every parameter and buffer of model, by name in sorted order (name, dtype, shape, bytes).
std::string params_sha256(const torch::nn::Module& model);

/// What is wrong with a checkpoint file, or "" when it verifies: missing, no .sha256 sidecar (never
/// completed), or a digest that differs from the sidecar's (corrupt or truncated). Names the file.
std::string checkpoint_problem(const std::filesystem::path& file);

}  // namespace mmdebias::core
