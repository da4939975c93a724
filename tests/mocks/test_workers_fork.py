"""`hih mock serve --workers 2` forks its workers from `multiprocessing`'s forkserver (`mocks.workers_fork`): what a
worker's fresh start gave the serving process still holds. A worker that cannot start says why in the serve's error,
one that dies stops the serve with its exit, and the serves of one process fork from one server. Real processes,
real MLLP and SQLite."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest

from harness.errors import UsageError
from mocks.serve import ServeOptions, serve
from tests.conftest import CONTRACTS, wait_for
from tests.mocks.serving import serving
from tests.mocks.worker_processes import worker_pids

pytestmark = pytest.mark.slow


def test_a_worker_that_cannot_start_says_why_in_the_serves_error(tmp_path: Path) -> None:
    state = tmp_path / "lis.sqlite"
    state.write_bytes(b"not a database " * 100)
    lines: list[str] = []
    with pytest.raises(UsageError) as raised:
        serve(ServeOptions(interfaces=["lis"], workers=2, contracts_dir=CONTRACTS, state=state), lines.append,
              threading.Event())
    assert str(raised.value).startswith("worker 1 did not start: mocks.state.StateError: state file ")
    assert "not a SQLite database" in str(raised.value)
    assert not any(line.startswith("ready") for line in lines)
    wait_for(lambda: worker_pids() == [], timeout=10.0)


def test_a_worker_killed_outright_stops_the_serve_with_its_exit() -> None:
    lines: list[str] = []
    with serving(ServeOptions(interfaces=["lis"], workers=2, contracts_dir=CONTRACTS), announced=lines):
        pids = worker_pids()
        assert len(pids) == 2
        os.kill(pids[1], signal.SIGKILL)
        wait_for(lambda: any("stopped (exit code -9): stopping" in line for line in lines), timeout=10.0)
    assert [line for line in lines if "stopping" in line][0].startswith("worker ")
    wait_for(lambda: worker_pids() == [], timeout=10.0)


def test_the_serves_of_one_process_fork_their_workers_from_one_server(tmp_path: Path) -> None:
    parents = []
    for interface in ("lis", "insurance"):
        with serving(ServeOptions(interfaces=[interface], workers=2, contracts_dir=CONTRACTS)):
            pids = worker_pids()
            assert len(pids) == 2
            parents.append({int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]) for pid in pids})
        wait_for(lambda: worker_pids() == [], timeout=10.0)
    assert len(parents[0]) == 1 and parents[0] == parents[1], "both serves' workers forked by one server"
    assert parents[0] != {os.getpid()}
