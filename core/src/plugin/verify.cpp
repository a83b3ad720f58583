#include "mmdebias/core/plugin_verify.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <map>
#include <sstream>
#include <thread>

#include "mmdebias/core/describe.hpp"
#include "mmdebias/core/errors.hpp"
#include "plugin/duplicates.hpp"
#include "plugin/library.hpp"
#include "plugin/pins.hpp"

extern char** environ;

namespace mmdebias::core {
namespace fs = std::filesystem;
namespace {

constexpr size_t kErrCap = 64 * 1024;

std::string signal_name(int sig) {
  // sigabbrev_np (glibc 2.32) gives "SEGV"; fall back to the number where it is unknown.
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

// The last few non-empty lines of a child's stderr: enough to show a crash's own message.
std::string tail_lines(const std::string& text, size_t lines) {
  size_t end = text.find_last_not_of("\n ");
  if (end == std::string::npos) return "";
  size_t pos = end + 1;
  for (size_t n = 0; n < lines && pos > 0; ++n) {
    size_t nl = text.rfind('\n', pos - 1);
    pos = nl == std::string::npos ? 0 : nl;
    if (nl == std::string::npos) break;
  }
  return text.substr(pos == 0 ? 0 : pos + 1, end + 1 - (pos == 0 ? 0 : pos + 1));
}

// Closes both ends of a pipe that are still open.
struct Pipe {
  int fd[2] = {-1, -1};
  Pipe() {
    if (pipe2(fd, O_CLOEXEC) != 0) throw RunError(std::string("cannot create a pipe: ") + strerror(errno));
  }
  ~Pipe() { for (int f : fd) if (f >= 0) close(f); }
  void close_end(int i) { if (fd[i] >= 0) { close(fd[i]); fd[i] = -1; } }
};

}  // namespace

const char* verify_status_name(VerifyStatus s) {
  switch (s) {
    case VerifyStatus::Loaded: return "loaded";
    case VerifyStatus::Skipped: return "skipped";
    case VerifyStatus::Refused: return "refused";
    case VerifyStatus::Crashed: return "crashed";
    case VerifyStatus::TimedOut: return "timed_out";
    case VerifyStatus::Failed: return "failed";
  }
  return "failed";
}

ChildOutcome run_child(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  Pipe out_pipe, err_pipe;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_pipe.fd[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe.fd[1], 2);
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, cargv[0], &actions, nullptr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw RunError("cannot start " + argv[0] + ": " + strerror(rc));
  out_pipe.close_end(1);
  err_pipe.close_end(1);

  ChildOutcome result;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto remaining_ms = [&] {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    return left > 0 ? static_cast<int>(left) : 0;
  };
  // Read both streams until the child closes them (a full pipe would otherwise block it) or time runs out.
  std::array<char, 4096> buf;
  while (out_pipe.fd[0] >= 0 || err_pipe.fd[0] >= 0) {
    std::array<pollfd, 2> fds{{{out_pipe.fd[0], POLLIN, 0}, {err_pipe.fd[0], POLLIN, 0}}};
    int ready = poll(fds.data(), fds.size(), remaining_ms());
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) break;  // the deadline passed
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = read(fds[i].fd, buf.data(), buf.size());
      if (n <= 0) { (i == 0 ? out_pipe : err_pipe).close_end(0); continue; }
      std::string& sink = i == 0 ? result.out : result.err;
      sink.append(buf.data(), static_cast<size_t>(n));
      if (i == 1 && sink.size() > kErrCap) sink.erase(0, sink.size() - kErrCap);
    }
  }
  // Streams closed (or the deadline passed): wait for the exit, up to the deadline.
  int status = 0;
  for (;;) {
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) throw RunError(std::string("waitpid failed: ") + strerror(errno));
    if (remaining_ms() == 0) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      result.timed_out = true;
      return result;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  return result;
}

namespace {

// What a child printed: its report of the file (the last line: anything a plugin printed to stdout while
// registering comes before it) and what the file's info struct said (the first line, when it got that far).
struct ChildReport {
  nlohmann::json plugin;  ///< plugins_json's entry for the file; null when there is none.
  nlohmann::json opened;  ///< {name, version, accepted}; null when the child did not get that far.
};

ChildReport read_report(const std::string& out) {
  ChildReport r;
  nlohmann::json report = nlohmann::json::parse(tail_lines(out, 1), nullptr, false);
  if (report.is_object() && report.contains("plugins") && report["plugins"].is_array() && !report["plugins"].empty())
    r.plugin = report["plugins"][0];
  nlohmann::json first = nlohmann::json::parse(out.substr(0, out.find('\n')), nullptr, false);
  if (first.is_object() && first.contains("opened") && first["opened"].is_object()) r.opened = first["opened"];
  return r;
}

// Loads file in a child and reads its report. plugin is set to the name it provides when the handshake accepted
// it (what the duplicate rule counts, as in PluginHost), whatever became of its registration.
VerifyResult verify_in_child(const fs::path& file, const std::vector<std::string>& child_argv, std::chrono::milliseconds timeout,
                             std::string& plugin) {
  VerifyResult r;
  r.path = file;
  std::vector<std::string> argv = child_argv;
  argv.push_back(r.path.string());
  ChildOutcome c = run_child(argv, timeout);
  r.stderr_tail = tail_lines(c.err, 5);
  const ChildReport report = read_report(c.out);
  const nlohmann::json& opened = report.opened;
  r.plugin = report.plugin;
  if (opened.is_object() && opened.value("accepted", false)) plugin = opened.value("name", "");
  if (r.plugin.is_object() && r.plugin.value("status", "") == "loaded") plugin = r.plugin.value("name", "");
  std::string stage = opened.is_null() ? " while opening it" : " while registering its components";
  std::ostringstream secs;
  secs << timeout.count() / 1000.0;
  if (c.timed_out) {
    r.status = VerifyStatus::TimedOut;
    r.reason = "loading did not finish within " + secs.str() + " s (stuck" + stage + "); the child was killed";
  } else if (c.signal) {
    r.status = VerifyStatus::Crashed;
    r.signal = signal_name(c.signal);
    r.reason = "the process loading it was killed by " + r.signal + " (" + strsignal(c.signal) + ")" + stage;
  } else if (r.plugin.is_null()) {
    r.status = VerifyStatus::Failed;
    r.reason = "the process loading it exited with code " + std::to_string(c.exit_code) + " without a report";
  } else if (r.plugin.value("status", "") == "loaded") {
    r.status = VerifyStatus::Loaded;
  } else {
    r.status = VerifyStatus::Refused;
    r.reason = r.plugin.value("reason", "refused");
  }
  if (r.plugin.is_null() && !opened.is_null()) r.plugin = {{"name", opened.value("name", "")}, {"version", opened.value("version", "")}};
  return r;
}

// A skipped or conflicting file is reported as such, unless its child failed on its own (crashed, hung, no report).
void apply_decision(VerifyResult& r, const DuplicateDecision& d) {
  if (d.verdict == DuplicateVerdict::Use) return;
  if (r.status != VerifyStatus::Loaded && r.status != VerifyStatus::Refused) return;
  r.status = d.verdict == DuplicateVerdict::Skip ? VerifyStatus::Skipped : VerifyStatus::Refused;
  r.reason = d.reason;
  if (r.plugin.is_object()) r.plugin["components"] = nlohmann::json::array();  // the host registers none of them
}

}  // namespace

std::vector<VerifyResult> verify_plugins(const std::vector<PluginCandidate>& files, const std::vector<std::string>& child_argv,
                                         std::chrono::milliseconds timeout) {
  std::vector<ProvidingFile> providing;
  for (const auto& f : files) providing.push_back({fs::absolute(f.path).lexically_normal(), f.direct, ""});
  std::vector<VerifyResult> results;
  for (size_t i = 0; i < files.size(); ++i) {
    std::string skip = skip_before_opening(providing, i);
    if (skip.empty()) {
      results.push_back(verify_in_child(providing[i].path, child_argv, timeout, providing[i].plugin));
      continue;
    }
    VerifyResult skipped;  // no child: opening it would run its code
    skipped.path = providing[i].path;
    skipped.status = VerifyStatus::Skipped;
    skipped.reason = std::move(skip);
    results.push_back(std::move(skipped));
  }
  const std::vector<DuplicateDecision> decisions = decide_duplicates(providing);
  for (size_t i = 0; i < results.size(); ++i) apply_decision(results[i], decisions[i]);
  return results;
}

std::vector<PluginCandidate> given_plugin_files(const std::vector<std::string>& args) {
  std::vector<PluginCandidate> out;
  std::vector<std::string> errors;
  for (const auto& arg : args) {
    std::error_code ec;
    if (is_plugin_file_name(arg) && fs::is_regular_file(arg, ec)) out.push_back({arg, true});
    else errors.push_back("mmdebias plugins --verify: " + arg + " is not a plugin file (a file named mmdebias-<name>.so)");
  }
  if (!errors.empty()) throw InputErrors(errors);
  return out;
}

bool any_failed(const std::vector<VerifyResult>& results) {
  for (const auto& r : results) if (r.status != VerifyStatus::Loaded && r.status != VerifyStatus::Skipped) return true;
  return false;
}

std::string verify_text(const std::vector<VerifyResult>& results) {
  std::ostringstream out;
  PluginInfo h = host_build_info();
  out << "host: mmdebias " << MMDEBIAS_VERSION << " (" << h.fingerprint_text() << ")\n";
  if (results.empty()) out << "no plugin files found on the search path\n";
  std::map<VerifyStatus, int> tally;
  for (const auto& r : results) {
    ++tally[r.status];
    std::string status = verify_status_name(r.status);
    std::replace(status.begin(), status.end(), '_', ' ');
    out << "\n" << status << std::string(status.size() < 10 ? 10 - status.size() : 1, ' ');
    if (r.plugin.is_object() && !r.plugin.value("name", "").empty())
      out << r.plugin.value("name", "") << " " << r.plugin.value("version", "") << "  ";
    out << r.path.string();
    if (r.status == VerifyStatus::Loaded) out << "  (" << r.plugin["components"].size() << " components)";
    out << "\n";
    if (!r.reason.empty()) out << "          " << r.reason << "\n";
    if (r.status != VerifyStatus::Loaded && r.status != VerifyStatus::Refused && r.status != VerifyStatus::Skipped &&
        !r.stderr_tail.empty()) {
      std::istringstream lines(r.stderr_tail);
      for (std::string line; std::getline(lines, line);) out << "          stderr: " << line << "\n";
    }
  }
  out << "\n" << results.size() << " file(s): " << tally[VerifyStatus::Loaded] << " loaded, " << tally[VerifyStatus::Skipped]
      << " skipped, " << tally[VerifyStatus::Refused]
      << " refused, " << tally[VerifyStatus::Crashed] << " crashed, " << tally[VerifyStatus::TimedOut] << " timed out, "
      << tally[VerifyStatus::Failed] << " failed\n";
  return out.str();
}

nlohmann::json verify_json(const std::vector<VerifyResult>& results) {
  nlohmann::json plugins = nlohmann::json::array();
  for (const auto& r : results) {
    nlohmann::json p = r.plugin.is_object() ? r.plugin : nlohmann::json::object();
    p["path"] = r.path.string();
    p["status"] = verify_status_name(r.status);
    p["reason"] = r.reason;
    p["signal"] = r.signal;
    p["stderr"] = r.stderr_tail;
    if (!p.contains("components")) p["components"] = nlohmann::json::array();
    plugins.push_back(p);
  }
  return {{"host", plugins_json(PluginHost())["host"]}, {"plugins", plugins}, {"ok", !any_failed(results)}};
}

void verify_child(const std::filesystem::path& file, std::ostream& out) {
  // First what the info struct says (no plugin code beyond the entry symbol has run yet), so that a
  // plugin dying in its registration is still reported by name. Only a file the loader would open.
  if (is_plugin_file_name(file)) {
    try {
      auto lib = PluginLibrary::open(file);
      const bool accepted = !handshake_refusal(lib->info(), host_build_info(), file);  // its name then counts as provided
      nlohmann::json opened = {{"name", lib->info().name}, {"version", lib->info().version}, {"accepted", accepted}};
      out << nlohmann::json{{"opened", opened}}.dump() << std::endl;
    } catch (const std::exception&) {
      // Unreadable: the load below reports why.
    }
  }
  SearchPath sp;
  sp.cli = {file};
  PluginHost host;
  try {
    host.load(sp);
  } catch (const InputError& e) {  // refused before opening (its name): a report like any other refusal
    nlohmann::json refused = {{"path", fs::absolute(file).lexically_normal().string()}, {"status", "refused"}, {"reason", e.what()}};
    out << nlohmann::json{{"plugins", nlohmann::json::array({refused})}}.dump() << std::endl;
    return;
  }
  out << plugins_json(host).dump() << std::endl;
}

}  // namespace mmdebias::core
