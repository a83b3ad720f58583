// Stop requests: SIGTERM / SIGINT during training ask the loop to save a checkpoint and stop at the next
// step boundary (clusters send SIGTERM before preemption), instead of dying mid-step.
#pragma once

namespace mmdebias::core {

/// While alive, SIGTERM and SIGINT only record a stop request (an async-signal-safe flag) and print one
/// line; a second SIGINT exits at once with 130 (the last committed checkpoint stays valid). Restores
/// the previous handlers when it ends. A signal the process inherited as ignored stays ignored. Not nested.
/// Until setup_done(), a stop request also starts a deadline (10 s; MMDEBIAS_SETUP_STOP_SECONDS): setup
/// that outlives it (a hanging plugin or rendezvous) exits with 128 + signal, naming what was running.
class StopSignalScope {
 public:
  StopSignalScope();
  ~StopSignalScope();
  /// The first step is about to begin: from here a stop request waits for the step boundary.
  void setup_done();
  StopSignalScope(const StopSignalScope&) = delete;
  StopSignalScope& operator=(const StopSignalScope&) = delete;
};

/// The signal that asked this process to stop (SIGTERM or SIGINT; the first one), or 0.
int stop_signal_received();

/// Records a stop request as if `signal` had arrived (tests; also used by the handler).
void request_stop(int signal);

/// Forgets any stop request (tests).
void clear_stop_request();

/// "SIGTERM", "SIGINT", or "a signal" for any other.
const char* signal_name(int signal);

/// The exit code of a run stopped by a signal: 128 + signal, the shell's convention.
inline int exit_code_for_signal(int signal) { return 128 + signal; }

}  // namespace mmdebias::core
