// Files that are either wholly written or not there: what checkpoints, manifests, summaries and reports are
// written with, so a kill or a full disk never leaves half a file under the final name.
#pragma once

#include <filesystem>
#include <functional>
#include <string>

namespace mmdebias::core {

/// Writes text to path atomically: a temp file (path.tmp-<pid>) in the same directory, fsync, rename, fsync
/// of the directory. before_rename, when given, runs between the fsync and the rename (a test's pause).
void write_file_atomically(const std::filesystem::path& path, const std::string& text,
                           const std::function<void()>& before_rename = nullptr);

}  // namespace mmdebias::core
