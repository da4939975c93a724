"""The suite's fork server (tests/forkserver.py): what it forks is a real pytest process of its own, in the order's
environment, working folder and import path, that exits with its own status (a signal's too) and ends with the
server."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import wait_for
from tests.forkserver import ForkServer

PROBE = """
import os, sys
import plugged

def test_where_it_runs():
    print("where", os.getcwd(), os.environ["FORK_PROBE"], plugged.NAME, os.getsid(0) == os.getpid(),
          "harness.run.runner" in sys.modules, sys.orig_argv[1:3])

def test_fails():
    value = 1
    assert value == 2
"""


@pytest.fixture
def probe(tmp_path: Path) -> Path:
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "test_probe.py").write_text(PROBE, encoding="utf-8")
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "plugged.py").write_text("NAME = 'plugged-in'\n", encoding="utf-8")
    return tmp_path


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[ForkServer]:
    server = ForkServer(tmp_path / "server")
    yield server
    server.close()


def test_a_forked_process_runs_in_the_orders_place_and_exits_with_its_own_status(
        probe: Path, fork_server: ForkServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(probe)
    env = {**os.environ, "FORK_PROBE": "told", "PYTHONPATH": str(probe / "lib")}
    log = probe / "pytest.log"
    process = fork_server.fork(["-q", "-s", "-p", "no:cacheprovider", "-p", "no:randomly", "specs"], log, env)
    assert process.pid != os.getpid()
    assert process.wait(120) == 1, "one test failed: pytest's exit status 1"
    text = log.read_text(encoding="utf-8")
    assert f"where {probe} told plugged-in True False ['-m', 'pytest']" in text, text
    assert "assert 1 == 2" in text, "the test module's assertion was rewritten: nothing imported it before pytest"
    assert "1 failed, 1 passed" in text


def test_a_signal_ends_it_and_says_so(tmp_path: Path, fork_server: ForkServer, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "test_sleeps.py").write_text("import time\ndef test_sleeps():\n    time.sleep(600)\n",
                                             encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    process = fork_server.fork(["-q", "-p", "no:cacheprovider", "test_sleeps.py"], tmp_path / "log", dict(os.environ))
    with pytest.raises(subprocess.TimeoutExpired):
        process.wait(0.5)
    assert process.poll() is None
    os.killpg(process.pid, signal.SIGKILL)  # its own process group, as `hih run` stops it
    assert process.wait(60) == -signal.SIGKILL


def test_once_it_has_exited_poll_gives_its_status_as_popens_does(
        tmp_path: Path, fork_server: ForkServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """`hih run` sees a lane's end through a pidfd, then asks `poll()`: the status must be there, not None (a process
    dropped unread leaves its minder's socket open). Its minder held stopped until the process has exited."""
    (tmp_path / "test_minder.py").write_text(
        "import os, pathlib\ndef test_names_its_minder():\n"
        "    pathlib.Path('minder').write_text(str(os.getppid()))\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    process = fork_server.fork(["-q", "-p", "no:cacheprovider", "test_minder.py"], tmp_path / "log", dict(os.environ))
    assert wait_for(lambda: (tmp_path / "minder").exists() and (tmp_path / "minder").read_text() != "", timeout=120)
    minder = int((tmp_path / "minder").read_text())
    os.kill(minder, signal.SIGSTOP)
    try:
        exited = os.pidfd_open(process.pid)
        try:
            assert select.select([exited], [], [], 120)[0], "the pytest process exited"
        finally:
            os.close(exited)
        threading.Timer(0.5, os.kill, (minder, signal.SIGCONT)).start()
        assert process.poll() == 0
    finally:
        os.kill(minder, signal.SIGCONT)


def test_a_run_process_ends_with_the_server(tmp_path: Path, own_server: ForkServer,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The server ends with the test process: what it forked for `hih run` then stops as under a killed `hih`."""
    (tmp_path / "test_sleeps.py").write_text("import time\ndef test_sleeps():\n    time.sleep(600)\n",
                                             encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    process = own_server.fork(["-q", "-p", "no:cacheprovider", "-p", "harness.run.collector", "--hih-parent-pid",
                               str(os.getpid()), "test_sleeps.py"], tmp_path / "log", env)
    server = own_server.servers["plain"].process
    assert server is not None
    server.kill()
    server.wait(10)
    assert process.wait(60) != 0, "not known to have passed: its minder ended with the server"
    assert wait_for(lambda: not alive(process.pid), timeout=30), "the pytest process stopped once orphaned"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_the_server_outlives_the_thread_that_started_it(tmp_path: Path, own_server: ForkServer,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """`hih run` may start a pytest process from any of its threads; the server stays for the next one."""
    (tmp_path / "test_passes.py").write_text("def test_passes():\n    pass\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    first: list[subprocess.Popen[bytes]] = []
    starter = threading.Thread(target=lambda: first.append(
        own_server.fork(["-q", "-p", "no:cacheprovider", "test_passes.py"], tmp_path / "one.log", dict(os.environ))))
    starter.start()
    starter.join(120)
    assert first and first[0].wait(120) == 0
    server = own_server.servers["plain"].process
    second = own_server.fork(["-q", "-p", "no:cacheprovider", "test_passes.py"], tmp_path / "two.log",
                             dict(os.environ))
    assert second.wait(120) == 0
    assert own_server.servers["plain"].process is server and server is not None and server.poll() is None
