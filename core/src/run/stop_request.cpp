#include "mmdebias/core/stop_request.hpp"

#include <unistd.h>

#include <csignal>
#include <cstring>

namespace mmdebias::core {
namespace {

volatile std::sig_atomic_t g_signal = 0;  // the first stop request; read at step boundaries
struct sigaction g_previous_term, g_previous_int;

void say(const char* text) {
  ssize_t ignored = ::write(STDERR_FILENO, text, std::strlen(text));
  (void)ignored;
}

// Only async-signal-safe calls here: a flag, write(2), _exit(2).
void on_stop_signal(int signal) {
  if (g_signal != 0) {
    if (signal == SIGINT) {
      say("\nmmdebias: second SIGINT: exiting now; the last saved checkpoint stays valid\n");
      ::_exit(exit_code_for_signal(SIGINT));
    }
    return;  // a repeated SIGTERM (launchers often forward one to every process) changes nothing
  }
  g_signal = signal;
  say(signal == SIGTERM ? "\nmmdebias: SIGTERM received: saving a checkpoint at the end of the current step, then exiting\n"
                        : "\nmmdebias: SIGINT received: saving a checkpoint at the end of the current step, then exiting "
                          "(press Ctrl-C again to quit at once)\n");
}

}  // namespace

StopSignalScope::StopSignalScope() {
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

StopSignalScope::~StopSignalScope() {
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
