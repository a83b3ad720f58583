"""Commands run from the source tree with a timeout, their output in a log (a dry run only prints most of them), and
the small helpers every step shares: the failure a step raises, progress lines, quoting, paths shown relative."""
import os
import shlex
import signal
import subprocess
import time
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent.parent


class Failure(RuntimeError):
    """A step that cannot go on: the message says what is missing and what to do."""



def say(clock, msg):
    e = clock.elapsed()
    print(f"gpu-check [{int(e // 60):02d}:{int(e % 60):02d}] {msg}", flush=True)


def q(cmd):
    return " ".join(shlex.quote(str(c)) for c in cmd)


def rel(path):
    path = os.path.abspath(str(path))
    return os.path.relpath(path, SRC) if os.path.commonpath([path, str(SRC)]) == str(SRC) else path


def out_of(cmd, **kw):
    try:
        return subprocess.run([str(c) for c in cmd], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=60, **kw).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


class Runner:
    """Runs (or, in a dry run, prints) commands with a timeout, their output in a log file."""

    def __init__(self, clock, logs, dry):
        self.clock, self.logs, self.dry = clock, Path(logs), dry
        self.logs.mkdir(parents=True, exist_ok=True)
        self.count = 0

    def log_path(self, name):
        self.count += 1
        return self.logs / f"{self.count:02d}-{name}.log"

    def __call__(self, cmd, name, timeout, env=None, ok=(0,), show=True, really=None):
        """Returns (exit code, output, seconds). Raises Failure on a code outside `ok` or a timeout. really=True runs
        even in a dry run (the steps a dry run checks)."""
        cmd = [str(c) for c in cmd]
        if show:
            say(self.clock, f"  $ {q(cmd)}")
        if self.dry and not really:
            return 0, "", 0.0
        log = self.log_path(name)
        t0 = time.monotonic()
        with open(log, "w") as f:
            p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=env, cwd=SRC, start_new_session=True)
            try:
                code = p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
                raise Failure(f"timed out after {timeout:.0f} s: {q(cmd)} (log {log})")
        text = log.read_text(errors="replace")
        if code not in ok:
            raise Failure(f"exit {code}: {q(cmd)}\n{text[-2500:]}(log {log})")
        return code, text, time.monotonic() - t0
