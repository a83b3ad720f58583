// The one rule for a plugin name provided by several files on the search path, shared by PluginHost::load and
// `plugins --verify`: an error naming every file, unless exactly one of them was given directly as a file with
// --plugin-path, which is then chosen and the others skipped (before opening, where their file name says so).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace mmdebias::core {

/// A candidate file as the rule sees it.
struct ProvidingFile {
  std::filesystem::path path;  ///< The file.
  bool direct = false;         ///< Given as a file with --plugin-path.
  std::string plugin;          ///< The plugin name it provides (opened and accepted by the handshake); empty: none.
};

/// What the rule makes of one file.
enum class DuplicateVerdict {
  Use,       ///< No objection: no other file provides its plugin name, it is the one given directly, or it provides none.
  Skip,      ///< Another file of its plugin was given directly: not loaded, not an error.
  Conflict,  ///< Its plugin name is provided by other files too and none is chosen: an error.
};

/// The verdict on one file and, for Skip and Conflict, the reason (the same conflict text on every file of a name).
struct DuplicateDecision {
  DuplicateVerdict verdict = DuplicateVerdict::Use;  ///< The verdict.
  std::string reason;                                ///< "skipped: plugin 'x' is taken from ..." or the error.
};

/// Why files[i] is skipped before it is opened: exactly one other file, given directly, has its file name
/// (mmdebias-x.so), and files[i] was not. Empty when it must be opened to decide. Needs no plugin names.
std::string skip_before_opening(const std::vector<ProvidingFile>& files, size_t i);

/// The decision on each file (same order), from the plugin names the opened files provide.
std::vector<DuplicateDecision> decide_duplicates(const std::vector<ProvidingFile>& files);

}  // namespace mmdebias::core
