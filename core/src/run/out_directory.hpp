// What a directory already holds before a new run (`run MANIFEST --out DIR`) writes into it, and whether it
// may: an empty directory, or a run of ours that left nothing worth keeping, is used as it is; anything else
// (another run, a finished one, files that are not a run) only with --force, which moves aside what a run
// would overwrite and deletes nothing.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace mmdebias::core {

/// What a directory holds, as far as a new run is concerned.
enum class OutKind {
  Empty,       ///< Missing, empty, or nothing but what a start killed before its first write leaves.
  Foreign,     ///< Not empty and without our marker: not a run directory of ours (or one of an older mmdebias).
  Started,     ///< Ours, with no committed checkpoint: a start that died early; nothing to keep.
  Unfinished,  ///< Ours, with a checkpoint and no summary.json: `run --resume` continues it.
  Finished,    ///< Ours, with summary.json.
};

/// The result of inspect_out_directory.
struct OutDirectory {
  OutKind kind = OutKind::Empty;
  std::vector<std::string> entries;  ///< Foreign: the entries found (sorted), for the message.
  std::string latest;                ///< Unfinished: the checkpoint `latest` names.
};

/// Looks at dir without writing anything and without following links inside it.
OutDirectory inspect_out_directory(const std::filesystem::path& dir);

/// Throws InputError (exit 2) naming dir and what to do when a new run may not write into what it holds (Foreign,
/// Unfinished, Finished) unless force. Returns whether files must be set aside first (those cases, forced).
bool check_fresh_start(const std::filesystem::path& dir, const OutDirectory& found, bool force);

/// Moves every entry of dir that runs write (RunDirectory::written_by_runs) into a new dir/replaced-<time>/,
/// renaming, never copying or deleting (a link is moved as a link). Returns that directory, or an empty path
/// when there was nothing to move.
std::filesystem::path set_aside_run_files(const std::filesystem::path& dir);

}  // namespace mmdebias::core
