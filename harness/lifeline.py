"""A child process of hih that ends with its parent: the kernel sends it SIGTERM when the parent dies (Linux
`prctl(PR_SET_PDEATHSIG)`), so a parent killed outright (SIGKILL, the OOM killer, a CI job torn down) leaves no
child serving a port or holding the job's output open.

Where there is no such request (not Linux), the child's own watch on its parent (`os.getppid()` changing) is the
only lifeline.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys

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
