#include "plugin/load_crash_note.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstring>
#include <string>

namespace mmdebias::core::detail {
namespace {

constexpr int kSignals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
constexpr int kCount = sizeof kSignals / sizeof kSignals[0];
struct sigaction g_previous[kCount];
char g_file[4096];  // the file being loaded; written before the handlers are installed

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

}  // namespace

LoadCrashNote::LoadCrashNote(const std::filesystem::path& file)
    : activity_("loading plugin " + file.string() + " (its initialisation or registration)") {
  std::strncpy(g_file, file.c_str(), sizeof g_file - 1);
  g_file[sizeof g_file - 1] = '\0';
  struct sigaction action {};
  action.sa_handler = on_fatal_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_ONSTACK;
  for (int i = 0; i < kCount; ++i) ::sigaction(kSignals[i], &action, &g_previous[i]);
}

LoadCrashNote::~LoadCrashNote() {
  for (int i = 0; i < kCount; ++i) ::sigaction(kSignals[i], &g_previous[i], nullptr);
}

}  // namespace mmdebias::core::detail
