// Which checkpoint a resume (or an evaluation) starts from: `latest`, or one named by --checkpoint; a
// checkpoint that does not verify is refused, and the newest earlier one that does is offered.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace mmdebias::core {

/// A checkpoint file of a run and its step (from its name, ckpt-<step>.pt).
struct CheckpointFile {
  int64_t step = 0;
  std::filesystem::path file;
};

/// The ckpt-<step>.pt files in dir, newest (highest step) first.
std::vector<CheckpointFile> list_checkpoints(const std::filesystem::path& dir);

/// The checkpoint to continue from: dir/`requested` when requested is not empty (a file name such as
/// ckpt-000000400.pt), otherwise the one dir/latest names; nullopt when there is no `latest` (no checkpoint
/// was ever committed). Throws InputError when the choice does not verify (checkpoint_problem), naming the
/// file and what is wrong, and offering the newest earlier checkpoint that verifies as
/// "`<retry_command> --checkpoint NAME`" (or saying that none does).
std::optional<std::filesystem::path> choose_checkpoint(const std::filesystem::path& dir, const std::string& requested,
                                                       const std::string& retry_command);

/// Continuing from `chosen`, an earlier checkpoint than the newest: moves every later checkpoint (and its
/// sidecar) into dir/discarded/, kept rather than deleted, and points dir/latest at chosen. Returns the
/// names moved.
std::vector<std::string> set_aside_later_checkpoints(const std::filesystem::path& dir, const std::filesystem::path& chosen);

/// Removes the temporary files (*.tmp-<pid>) of checkpoint writes that a killed process left in dir.
void remove_unfinished_writes(const std::filesystem::path& dir);

}  // namespace mmdebias::core
