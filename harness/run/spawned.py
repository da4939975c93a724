"""A process started by harness.run.warm.start (forked and executed), handled as the `subprocess.Popen` that `hih run` keeps of its pytest
processes: pid, stdin, poll, wait (with a timeout), signals, kill.

`hih run` starts its warm pytest process (harness.run.warm) before anything else, and importing subprocess (re,
enum, locale, signal, threading, selectors: ≈ 33 M instructions) stood before that start: the run's first scenario
waits on that process. `harness.run.warm.start` starts it as `Popen(argv, stdin=PIPE, stdout=DEVNULL,
stderr=DEVNULL, start_new_session=True)` would, with what the interpreter has loaded at its start; this module, and
subprocess with it, is imported once the process is running.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from typing import IO

WAIT_STEP_S = 0.05
"""The longest sleep between two looks at a process being waited for with a timeout (as `Popen.wait`)."""


class Spawned(subprocess.Popen[bytes]):
    """A running process `harness.run.warm.start` started; its exit status comes from `os.waitpid`, as Popen's
    does."""

    def __init__(self, args: list[str], pid: int, stdin: IO[bytes]) -> None:
        # no Popen.__init__: the process is running already
        self.args, self.pid, self.returncode = args, pid, None
        self.stdin, self.stdout, self.stderr = stdin, None, None
        self._child_created = False  # nothing for Popen.__del__ to do: the run waits for the process itself
        self._reaping = threading.Lock()

    def _reaped(self, block: bool) -> int | None:
        """The exit status once the process has exited (reaped here, once); None while it runs, and when another
        thread is reaping it and `block` is false."""
        if self.returncode is not None:
            return self.returncode
        if not self._reaping.acquire(block):
            return None
        try:
            if self.returncode is None:
                try:
                    pid, status = os.waitpid(self.pid, 0 if block else os.WNOHANG)
                except ChildProcessError:  # reaped by someone else: its status is lost, as Popen takes it
                    self.returncode = 0
                else:
                    if pid == self.pid:
                        self.returncode = os.waitstatus_to_exitcode(status)
            return self.returncode
        finally:
            self._reaping.release()

    def poll(self) -> int | None:
        return self._reaped(block=False)

    def wait(self, timeout: float | None = None) -> int:
        if timeout is None:
            code = self._reaped(block=True)
            assert code is not None
            return code
        deadline = time.monotonic() + timeout
        step = 0.0005
        while (code := self._reaped(block=False)) is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise subprocess.TimeoutExpired(self.args, timeout)
            time.sleep(min(step, left))
            step = min(step * 2, WAIT_STEP_S)
        return code

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:  # exited meanwhile
                pass

    def terminate(self) -> None:
        import signal

        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        import signal

        self.send_signal(signal.SIGKILL)


def wrap(argv: list[str], pid: int, stdin_fd: int) -> Spawned:
    """The process `pid` started from `argv`, its standard input the pipe `stdin_fd` writes to."""
    return Spawned(argv, pid, os.fdopen(stdin_fd, "wb"))
