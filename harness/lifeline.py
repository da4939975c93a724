"""A child process of hih that ends with its parent: the kernel sends it SIGTERM when the parent dies (Linux
`prctl(PR_SET_PDEATHSIG)`), so a parent killed outright (SIGKILL, the OOM killer, a CI job torn down) leaves no
child serving a port or holding the job's output open.

Where there is no such request (not Linux), the child's own watch on its parent (`os.getppid()` changing) is the
only lifeline.

A child that must end with a process other than its parent (a worker forked by `multiprocessing`'s forkserver, whose
parent is that server, ends with the serving process) is given the read end of a pipe whose write end that process
alone holds: the end of the pipe is its end (`die_with`).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int, sig: int = signal.SIGTERM) -> bool:
    """Ask for `sig` when the parent dies. Returns whether the parent, process `parent`, is still there: when it is
    not, it died before the request and no signal will come, so the caller ends at once."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):  # no C library to ask: the watch on the parent remains
            # the running program's own symbols hold the C library's `prctl`: no `find_library`, which runs ldconfig
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
    return os.getppid() == parent


def die_with(lifeline: Connection, sig: int = signal.SIGTERM) -> None:
    """Have `sig` sent to this process when the other end of `lifeline` closes: the process holding it ended, killed
    or not. Nothing is ever sent on it; a thread waits for its end for as long as this process lives."""

    def watch() -> None:
        with contextlib.suppress(OSError, EOFError):
            lifeline.poll(None)  # readable only at its end
        os.kill(os.getpid(), sig)

    threading.Thread(target=watch, name="hih-lifeline", daemon=True).start()
