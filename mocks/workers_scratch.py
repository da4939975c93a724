"""The scratch folder of `hih mock serve --workers N`: made held, and swept when its serve was killed.

A serve without `--state` keeps its workers' state and logs in a scratch folder it removes when it stops. A serve
killed outright (SIGKILL, the OOM killer) cannot remove it, and every such kill would leave a folder of state
behind for good. So the serving process holds an exclusive `flock` on its folder for as long as it lives (the kernel
drops the lock when the process ends, however it ends; forked workers share the lock while they live), and each new
serve first removes the folders of its kind in the temporary directory whose lock nobody holds.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PREFIX = "hih-workers-"
YOUNG_S = 60.0
"""A folder made this recently may belong to a serve between making it and locking it: left alone."""


@dataclass
class Scratch:
    """A scratch folder and the open descriptor that holds its lock; `release` closes it and removes the folder."""

    path: Path
    fd: int

    def release(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        with contextlib.suppress(OSError):
            os.close(self.fd)


def make(parent: Path | None = None) -> Scratch:
    """A new scratch folder under `parent` (the temporary directory), held by this process until `release`."""
    path = Path(tempfile.mkdtemp(prefix=PREFIX, dir=parent))
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return Scratch(path, fd)


def sweep(parent: Path | None = None, *, young_s: float = YOUNG_S) -> list[Path]:
    """Remove the scratch folders under `parent` that no living serve holds and that are older than `young_s`;
    return them. A folder that cannot be read or locked is left as it is."""
    root = Path(parent) if parent is not None else Path(tempfile.gettempdir())
    removed: list[Path] = []
    now = time.time()
    for path in root.glob(PREFIX + "*"):
        try:
            if not path.is_dir() or path.is_symlink() or now - path.stat().st_mtime < young_s:
                continue
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)  # a living serve (or its workers) holds it
            continue
        try:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
        finally:
            os.close(fd)
    return removed
