// `mmdebias plugins --verify`: every plugin file is loaded in a child process of its own, so a plugin
// that crashes or hangs while loading is reported instead of taking the host down.
#pragma once

#include <chrono>
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mmdebias/core/plugin_host.hpp"

namespace mmdebias::core {

/// How one plugin file fared in its child process.
enum class VerifyStatus { Loaded, Skipped, Refused, Crashed, TimedOut, Failed };

/// "loaded", "skipped", "refused", "crashed", "timed_out" or "failed".
const char* verify_status_name(VerifyStatus s);

/// What became of one plugin file loaded in a child process.
struct VerifyResult {
  std::filesystem::path path;           ///< The file (absolute).
  VerifyStatus status = VerifyStatus::Failed;  ///< The outcome.
  nlohmann::json plugin;                ///< The child's report of the file (plugins_json's entry); null when it gave none.
  std::string reason;                   ///< Why it is not loaded (refusal, signal, timeout, exit code), one line.
  std::string signal;                   ///< "SIGSEGV" when the child was killed by a signal.
  std::string stderr_tail;              ///< The last lines the child wrote to stderr (a crash's own message).
};

/// The outcome of a child process, whatever it ran.
struct ChildOutcome {
  bool timed_out = false;  ///< Killed (SIGKILL) after the deadline.
  int exit_code = -1;      ///< Exit status when it exited normally, else -1.
  int signal = 0;          ///< The signal that ended it, else 0.
  std::string out;         ///< Everything it wrote to stdout.
  std::string err;         ///< Everything it wrote to stderr (capped at the last 64 KiB).
};

/// Runs argv[0] (a path) with argv, capturing stdout and stderr, killing it after timeout.
/// Throws RunError when it cannot be started.
ChildOutcome run_child(const std::vector<std::string>& argv, std::chrono::milliseconds timeout);

/// Loads each file in a child `child_argv + [file]` (verify_child's protocol). Files providing the same plugin
/// name follow PluginHost::load's rule: each refused naming them all, unless one was given directly, which is
/// chosen and the others skipped (no child at all for a file the rule skips by its name).
std::vector<VerifyResult> verify_plugins(const std::vector<PluginCandidate>& files,
                                         const std::vector<std::string>& child_argv, std::chrono::milliseconds timeout);

/// The files named on the command line (`plugins --verify FILE...`), each given directly. Throws InputErrors naming
/// each argument that is not a file named mmdebias-<name>.so.
std::vector<PluginCandidate> given_plugin_files(const std::vector<std::string>& args);

/// One line per file (status, name, version, path, component count), its reason under it, then a tally.
std::string verify_text(const std::vector<VerifyResult>& results);

/// {"host": {...}, "plugins": [{"path", "status", "reason", "signal", "name", "version", "components", ...}], "ok"}.
nlohmann::json verify_json(const std::vector<VerifyResult>& results);

/// The child's side of verify_plugins: loads file alone and prints, one JSON object a line, first what its info
/// struct says ({"opened": {name, version, accepted}}, accepted by the handshake; before any registration code
/// runs) and then plugins_json().
void verify_child(const std::filesystem::path& file, std::ostream& out);

/// True when any file is neither loaded nor skipped.
bool any_failed(const std::vector<VerifyResult>& results);

}  // namespace mmdebias::core
