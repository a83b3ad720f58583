#include "sweep/launch.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>

#include "mmdebias/core/errors.hpp"

namespace mmdebias::core {
namespace {

volatile sig_atomic_t g_stop = 0;      // the first stop signal
volatile sig_atomic_t g_interrupts = 0;  // SIGINTs received

void on_signal(int signal) {
  if (!g_stop) g_stop = signal;
  if (signal == SIGINT) ++g_interrupts;
}

// Installs the handlers for its lifetime (no SA_RESTART: waitpid returns EINTR, and the loop sees the flag).
class StopSignals {
 public:
  StopSignals() {
    g_stop = 0;
    g_interrupts = 0;
    struct sigaction action {};
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGTERM, &action, &term_);
    ::sigaction(SIGINT, &action, &int_);
  }
  ~StopSignals() {
    ::sigaction(SIGTERM, &term_, nullptr);
    ::sigaction(SIGINT, &int_, nullptr);
  }

 private:
  struct sigaction term_ {}, int_ {};
};

// In the child, between fork and exec: only async-signal-safe calls.
[[noreturn]] void exec_child(const ChildJob& job, const std::vector<char*>& argv, pid_t parent) {
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // the sweep killed (even by SIGKILL): the run checkpoints and stops
  if (::getppid() != parent) ::_exit(128 + SIGTERM);  // it died before the line above
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(SIGTERM, &dfl, nullptr);
  ::sigaction(SIGINT, &dfl, nullptr);
  const int log = ::open(job.log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  const int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (log < 0 || null < 0) ::_exit(126);
  ::dup2(null, 0);
  ::dup2(log, 1);
  ::dup2(log, 2);
  ::execv(argv[0], argv.data());
  const char* why = "mmdebias sweep: could not start the run's process (exec failed)\n";
  (void)!::write(2, why, std::strlen(why));
  ::_exit(127);
}

}  // namespace

int run_children(std::vector<ChildJob> jobs, int parallel, const std::function<bool(ChildJob&)>& ready,
                 const std::function<void(const ChildEnd&)>& done) {
  using Clock = std::chrono::steady_clock;
  StopSignals signals;
  std::map<pid_t, std::pair<size_t, Clock::time_point>> running;  // pid -> (job, start)
  int forwarded_interrupts = 0;
  bool forwarded_stop = false;
  size_t next = 0;
  const pid_t self = ::getpid();
  while (next < jobs.size() || !running.empty()) {
    if (g_stop && !forwarded_stop) {
      for (const auto& kv : running) ::kill(kv.first, SIGTERM);
      forwarded_stop = true;
    }
    if (g_interrupts > 1 && forwarded_interrupts < g_interrupts - 1) {
      for (const auto& kv : running) ::kill(kv.first, SIGINT);
      forwarded_interrupts = g_interrupts - 1;
    }
    if (!g_stop && next < jobs.size() && static_cast<int>(running.size()) < parallel) {
      ChildJob& job = jobs[next++];
      if (!ready(job)) continue;
      std::vector<char*> argv;
      for (const std::string& a : job.argv) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      const pid_t pid = ::fork();
      if (pid < 0) throw RunError(std::string("mmdebias sweep: cannot start a process: ") + std::strerror(errno));
      if (pid == 0) exec_child(job, argv, self);
      running[pid] = {job.index, Clock::now()};
      continue;
    }
    if (running.empty()) break;  // stopped before the rest started
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      throw RunError(std::string("mmdebias sweep: waiting for a run's process failed: ") + std::strerror(errno));
    }
    auto it = running.find(pid);
    if (it == running.end()) continue;
    ChildEnd end;
    end.index = it->second.first;
    end.seconds = std::chrono::duration<double>(Clock::now() - it->second.second).count();
    end.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    running.erase(it);
    done(end);
  }
  return g_stop;
}

}  // namespace mmdebias::core
