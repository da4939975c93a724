"""The workers' scratch folders (mocks/workers_scratch.py): a folder is held for as long as the process that made it
lives, and the next serve removes only the folders nobody holds, not young ones, not other folders."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from mocks import workers_scratch
from tests.conftest import ROOT

HOLDER = """
import sys
from pathlib import Path
from mocks.workers_scratch import make
print(make(Path(sys.argv[1])).path, flush=True)
sys.stdin.read()
"""
"""A process that makes a scratch folder, says where, and lives until its stdin closes."""


def aged(path: Path) -> Path:
    """`path` with a modification time two minutes ago (older than workers_scratch.YOUNG_S)."""
    past = time.time() - 120
    os.utime(path, (past, past))
    return path


def test_a_held_folder_is_kept_and_removed_when_released(tmp_path: Path) -> None:
    scratch = workers_scratch.make(tmp_path)
    (scratch.path / "lis.sqlite").write_bytes(b"state")
    aged(scratch.path)
    assert workers_scratch.sweep(tmp_path) == []
    assert scratch.path.is_dir()
    scratch.release()
    assert not scratch.path.exists()


def test_a_folder_whose_holder_was_killed_is_swept_and_nothing_else(tmp_path: Path) -> None:
    with subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], cwd=ROOT, stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True) as holder:
        assert holder.stdout is not None
        held = aged(Path(holder.stdout.readline().strip()))
        assert held.parent == tmp_path and held.name.startswith(workers_scratch.PREFIX)
        (held / "worker-1.log").write_text("log", encoding="utf-8")
        aged(held)
        assert workers_scratch.sweep(tmp_path) == [], "a living process holds it"
        assert held.is_dir()
        holder.send_signal(signal.SIGKILL)  # nothing of it runs to remove its folder
        assert holder.wait(10) == -signal.SIGKILL
    other = tmp_path / "hih-work-kept"
    other.mkdir()
    aged(other)
    young = workers_scratch.make(tmp_path)
    os.close(young.fd)  # unheld, but made just now: perhaps a serve between making and locking it
    assert workers_scratch.sweep(tmp_path) == [held]
    assert not held.exists()
    assert other.is_dir() and young.path.is_dir()
    assert workers_scratch.sweep(tmp_path, young_s=0.0) == [young.path]
