"""`hih mock serve --workers 2` forks its workers (`mocks.workers_fork`): itself, as the command of one thread, or
through `multiprocessing`'s forkserver from a thread of a threaded process (these tests' `serve`). What a worker's
fresh start gave the serving process still holds either way: a worker that cannot start says why in the serve's
error, one that dies stops the serve with its exit; the serves of one threaded process fork from one server. Real
processes, real MLLP and SQLite."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from harness.errors import ServeStopped, UsageError
from mocks.serve import ServeOptions, serve
from tests.conftest import CONTRACTS, wait_for
from tests.mocks.serving import serving
from tests.mocks.worker_processes import children, worker_pids

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
    with pytest.raises(AssertionError) as failed:  # `serving` fails the block with what `serve` raised
        with serving(ServeOptions(interfaces=["lis"], workers=2, contracts_dir=CONTRACTS), announced=lines):
            pids = worker_pids()
            assert len(pids) == 2
            os.kill(pids[1], signal.SIGKILL)
            wait_for(lambda: any("stopped (exit code -9): stopping" in line for line in lines), timeout=10.0)
    assert [line for line in lines if "stopping" in line][0].startswith("worker ")
    raised = failed.value.args[0][0]
    assert isinstance(raised, ServeStopped), failed.value
    assert str(raised) == "worker 2 stopped (exit code -9): the serve stopped"
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


def hih() -> str:
    return str(Path(sys.executable).with_name("hih"))


def test_the_command_says_why_its_worker_could_not_start(tmp_path: Path) -> None:
    state = tmp_path / "lis.sqlite"
    state.write_bytes(b"not a database " * 100)
    env = {k: v for k, v in os.environ.items() if k != "HIH_ADMIN_TOKEN"} | {"TMPDIR": str(tmp_path)}
    done = subprocess.run([hih(), "mock", "serve", "--interface", "lis", "--workers", "2", "--state", str(state)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False)
    assert done.returncode == 2, done.stderr
    said = (f"hih: error: worker 1 did not start: mocks.state.StateError: state file {state}: not a SQLite database "
            "hih can use (file is not a database)")
    assert done.stderr.strip().splitlines() == [said]


def test_the_commands_workers_are_its_own_children_and_one_killed_stops_it(tmp_path: Path) -> None:
    """Served by the command, whose one thread forks them: no forkserver between it and its workers."""
    out = tmp_path / "out.txt"
    env = {k: v for k, v in os.environ.items() if k != "HIH_ADMIN_TOKEN"} | {"TMPDIR": str(tmp_path)}
    with out.open("wb") as sink:
        serving = subprocess.Popen([hih(), "mock", "serve", "--interface", "insurance", "--workers", "2"],
                                   stdout=sink, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    try:
        wait_for(lambda: b"\nready" in out.read_bytes() or serving.poll() is not None, timeout=120.0)
        assert serving.poll() is None, out.read_text()
        workers = children(serving.pid)
        assert len(workers) == 2, "the two workers, and nothing else, under the serving process"
        assert all(b"mock\0serve" in Path(f"/proc/{pid}/cmdline").read_bytes() for pid in workers)
        os.kill(workers[0], signal.SIGKILL)
        assert serving.wait(30) == 1, "a serve stopped by a dead worker is a failure for whoever started it"
    finally:
        if serving.poll() is None:
            serving.kill()
            serving.wait(10)
    said = out.read_text()
    assert "worker 1 stopped (exit code -9): stopping" in said
    assert said.rstrip().splitlines()[-1] == "hih: error: worker 1 stopped (exit code -9): the serve stopped"
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()], "the other worker stopped with it"
