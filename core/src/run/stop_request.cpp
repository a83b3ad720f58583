#include "mmdebias/core/stop_request.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "common/activity.hpp"

namespace mmdebias::core {
namespace {

volatile std::sig_atomic_t g_signal = 0;  // the first stop request; read at step boundaries
volatile std::sig_atomic_t g_in_setup = 0;  // before the first step: a stop request there arms the deadline
unsigned g_setup_deadline_s = 10;
char g_deadline_text[12] = "10";  // g_setup_deadline_s in decimal, for the handler (no formatting there)
struct sigaction g_previous_term, g_previous_int, g_previous_alarm;

void say(const char* text) {
  ssize_t ignored = ::write(STDERR_FILENO, text, std::strlen(text));
  (void)ignored;
}

// Ends the process now. Not _exit: the host replaces it to catch plugins that exit while loading
// (plugin/load_crash_note.cpp), and this exit, from a signal handler, is ours.
[[noreturn]] void exit_now(int code) {
  for (;;) ::syscall(SYS_exit_group, code);
}

// Only async-signal-safe calls here: a flag, write(2), exit_group(2).
void on_stop_signal(int signal) {
  if (g_signal != 0) {
    if (signal == SIGINT) {
      say("\nmmdebias: second SIGINT: exiting now; the last saved checkpoint stays valid\n");
      exit_now(exit_code_for_signal(SIGINT));
    }
    return;  // a repeated SIGTERM (launchers often forward one to every process) changes nothing
  }
  g_signal = signal;
  if (g_in_setup) {  // setup has no step boundary to stop at soon: give it a deadline
    ::alarm(g_setup_deadline_s);
    say(signal == SIGTERM ? "\nmmdebias: SIGTERM received during setup: stopping at the first step, or in " : "\nmmdebias: SIGINT received during setup: stopping at the first step, or in ");
    say(g_deadline_text);
    say(" s if setup has not finished by then\n");
    return;
  }
  say(signal == SIGTERM ? "\nmmdebias: SIGTERM received: saving a checkpoint at the end of the current step, then exiting\n"
                        : "\nmmdebias: SIGINT received: saving a checkpoint at the end of the current step, then exiting "
                          "(press Ctrl-C again to quit at once)\n");
}

// Setup (a plugin that hangs while loading, a rendezvous that never completes) outlived its deadline.
void on_setup_deadline(int) {
  if (!g_in_setup) return;
  say("mmdebias: setup did not finish within ");
  say(g_deadline_text);
  say(" s of ");
  say(signal_name(g_signal));
  say(": exiting while ");
  say(*current_activity() != '\0' ? current_activity() : "setting up");
  say(" (no step had begun, so nothing is lost)\n");
  exit_now(exit_code_for_signal(g_signal));
}

unsigned setup_deadline_from_env() {
  const char* text = std::getenv("MMDEBIAS_SETUP_STOP_SECONDS");
  const long v = text != nullptr ? std::strtol(text, nullptr, 10) : 0;
  return v > 0 && v < 86400 ? static_cast<unsigned>(v) : 10;
}

}  // namespace

StopSignalScope::StopSignalScope() {
  g_setup_deadline_s = setup_deadline_from_env();
  std::snprintf(g_deadline_text, sizeof g_deadline_text, "%u", g_setup_deadline_s);
  g_in_setup = 1;
  struct sigaction deadline {};
  deadline.sa_handler = on_setup_deadline;
  sigemptyset(&deadline.sa_mask);
  ::sigaction(SIGALRM, &deadline, &g_previous_alarm);
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // system calls in progress resume; the loop polls the flag
  // A signal the parent set to be ignored stays ignored (a shell's background job ignores SIGINT).
  ::sigaction(SIGTERM, nullptr, &g_previous_term);
  ::sigaction(SIGINT, nullptr, &g_previous_int);
  if (g_previous_term.sa_handler != SIG_IGN) ::sigaction(SIGTERM, &action, nullptr);
  if (g_previous_int.sa_handler != SIG_IGN) ::sigaction(SIGINT, &action, nullptr);
}

void StopSignalScope::setup_done() {
  g_in_setup = 0;
  ::alarm(0);
}

StopSignalScope::~StopSignalScope() {
  setup_done();
  ::sigaction(SIGALRM, &g_previous_alarm, nullptr);
  ::sigaction(SIGTERM, &g_previous_term, nullptr);
  ::sigaction(SIGINT, &g_previous_int, nullptr);
}

int stop_signal_received() { return g_signal; }

void request_stop(int signal) {
  if (g_signal == 0) g_signal = signal;
}

void clear_stop_request() { g_signal = 0; }

const char* signal_name(int signal) {
  switch (signal) {
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    default: return "a signal";
  }
}

}  // namespace mmdebias::core
