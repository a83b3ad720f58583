#include "plugin/load_crash_note.hpp"

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

namespace mmdebias::core::detail {
namespace {

constexpr int kSignals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
constexpr int kCount = sizeof kSignals / sizeof kSignals[0];
struct sigaction g_previous[kCount];
char g_file[4096];  // the file being loaded; written before the handlers are installed
std::atomic<bool> g_loading{false};  // plugin code may be running: an exit now is the plugin's

const char* signal_name(int sig) {
  switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGILL: return "SIGILL";
    case SIGFPE: return "SIGFPE";
    default: return "SIGABRT";
  }
}

void say(const char* text) {
  ssize_t ignored = ::write(2, text, std::strlen(text));
  (void)ignored;
}

// Async-signal-safe: write(2), sigaction and raise only.
void on_fatal_signal(int sig) {
  say("\nmmdebias: fatal signal ");
  say(signal_name(sig));
  say(" in plugin code while loading ");
  say(g_file);
  say(" (its initialisation or registration). A crash inside the host's process cannot be caught: "
      "`mmdebias plugins --verify` loads every plugin in a child process of its own and names each one that "
      "crashes; remove that file from the plugin search path (--plugin-path, MMDEBIAS_PLUGIN_PATH, the manifest's plugins:).\n");
  for (int i = 0; i < kCount; ++i) ::sigaction(kSignals[i], &g_previous[i], nullptr);
  ::raise(sig);  // delivered when this handler returns, to the previous disposition
}

[[noreturn]] void end_process(int status) {
  for (;;) ::syscall(SYS_exit_group, status);  // what _exit does; our own _exit is the one being replaced
}

// Status 0 from a plugin that ended the process while loading would read as success with nothing written.
[[noreturn]] void refuse_exit_while_loading(const char* how) {
  say("\nmmdebias: plugin code called ");
  say(how);
  say(" while loading ");
  say(g_file);
  say(" (its initialisation or registration), ending the process before the command could finish; exiting with "
      "status 2. Remove that file from the plugin search path (--plugin-path, MMDEBIAS_PLUGIN_PATH, the manifest's "
      "plugins:).\n");
  end_process(2);
}

// exit() and quick_exit() run these handlers; registered before any plugin is opened, they come right after the
// handlers plugins registered themselves (their static destructors).
void on_exit_call() {
  if (g_loading.load()) refuse_exit_while_loading("exit()");
}
void on_quick_exit_call() {
  if (g_loading.load()) refuse_exit_while_loading("quick_exit()");
}

}  // namespace

LoadCrashNote::LoadCrashNote(const std::filesystem::path& file)
    : activity_("loading plugin " + file.string() + " (its initialisation or registration)") {
  static std::once_flag handlers;
  std::call_once(handlers, [] {
    std::atexit(on_exit_call);
    std::at_quick_exit(on_quick_exit_call);
  });
  std::strncpy(g_file, file.c_str(), sizeof g_file - 1);
  g_file[sizeof g_file - 1] = '\0';
  g_loading.store(true);
  struct sigaction action {};
  action.sa_handler = on_fatal_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_ONSTACK;
  for (int i = 0; i < kCount; ++i) ::sigaction(kSignals[i], &action, &g_previous[i]);
}

LoadCrashNote::~LoadCrashNote() {
  g_loading.store(false);
  for (int i = 0; i < kCount; ++i) ::sigaction(kSignals[i], &g_previous[i], nullptr);
}

}  // namespace mmdebias::core::detail

// _exit and _Exit skip atexit handlers, so the host replaces them: a definition in the executable is the one every
// library binds to, plugins included (hosts/mmdebias exports them). Outside plugin loading they end the process
// exactly as libc's do. Default visibility: the build hides everything else.
extern "C" __attribute__((visibility("default"))) void _exit(int status) {
  if (mmdebias::core::detail::g_loading.load()) mmdebias::core::detail::refuse_exit_while_loading("_exit()");
  mmdebias::core::detail::end_process(status);
}

extern "C" __attribute__((visibility("default"))) void _Exit(int status) noexcept {
  if (mmdebias::core::detail::g_loading.load()) mmdebias::core::detail::refuse_exit_while_loading("_Exit()");
  mmdebias::core::detail::end_process(status);
}
