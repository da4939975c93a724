"""The serving processes of `hih mock serve --workers N` started from this test process, read from /proc: the
children of the forkserver it started (`mocks.workers_fork`), which outlives each serve. The same forkserver forks the
tests' `hih` servers (tests/forked_hih.py), each a session leader of its own: a worker is not."""

from __future__ import annotations

import os
from pathlib import Path


def children(pid: int) -> list[int]:
    """The children of process `pid`, those of every thread (a child that ends meanwhile is passed over)."""
    try:
        return [int(k) for task in Path(f"/proc/{pid}/task").iterdir() for k in (task / "children").read_text().split()]
    except OSError:
        return []


def command_line(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def session_leader(pid: int) -> bool:
    try:  # after the command's name in parentheses: state, ppid, pgrp, session
        return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[3]) == pid
    except (OSError, ValueError, IndexError):
        return False


def worker_pids(pid: int | None = None) -> list[int]:
    """The workers serving now for process `pid` (this one by default), in no order."""
    servers = [kid for kid in children(pid or os.getpid()) if b"multiprocessing.forkserver" in command_line(kid)]
    return [worker for server in servers for worker in children(server) if not session_leader(worker)]
