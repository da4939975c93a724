"""A test that fails never leaves a process of its own running after pytest ends: a server not ready in time, an
assertion failing between start and stop, a failing fixture, Ctrl-C; nor does a serving process (`hih mock serve
--workers 2`) or `hih run --workers 2` killed outright leave its children running.

Each case runs in a pytest process of its own whose environment carries a mark; every process it starts inherits
the mark, so once that pytest has exited, any process still carrying the mark (read from /proc) was left behind.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from mocks import workers_scratch
from tests.conftest import ROOT
from tests.served import running, started

pytestmark = pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds processes through /proc")

MARK = "HIH_LEFTOVER_MARK"

SPAWNER = textwrap.dedent("""
    import subprocess, sys, time
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])  # a child of its own, as workers are
    if sys.argv[1:] == ["ready"]:
        print("ready", flush=True)
    time.sleep(600)
""")
"""A server stand-in: starts a child of its own, says `ready` when told to (else never), then runs until ended."""

INNER = textwrap.dedent('''
    import os
    import sys
    from collections.abc import Iterator
    from pathlib import Path

    import pytest

    from tests.served import running

    SPAWNER = {spawner!r}


    def test_a_server_never_ready_is_ended_with_its_children() -> None:
        with running([sys.executable, "-c", SPAWNER], dict(os.environ), Path.cwd(), timeout=0.5):
            pass


    def test_an_assertion_failing_while_it_runs_ends_it_with_its_children() -> None:
        with running([sys.executable, "-c", SPAWNER, "ready"], dict(os.environ), Path.cwd()):
            assert False, "failed on purpose"


    @pytest.fixture
    def server() -> Iterator[None]:
        with running([sys.executable, "-c", SPAWNER, "ready"], dict(os.environ), Path.cwd()):
            yield


    def test_a_fixture_ends_its_server_when_the_test_fails(server: None) -> None:
        assert False, "failed on purpose"


    def test_a_served_mllp_mock_not_ready_in_time_is_ended(tmp_path: Path) -> None:
        from tests.mocks.hl7.test_served import Served

        class NeverReady(Served):
            def wait_for(self, wanted: object, timeout: float = 20.0) -> str:
                raise AssertionError("not printed in time (on purpose)")

        NeverReady("--interface", "lis", cwd=tmp_path)


    def test_a_served_blood_centre_not_ready_in_time_is_ended(tmp_path: Path) -> None:
        from tests.cli.test_blood_center_serve import Served

        class NeverReady(Served):
            def wait_ready(self, timeout_s: float) -> None:
                raise AssertionError("not ready in time (on purpose)")

        NeverReady(tmp_path / "state.sqlite", tmp_path)
        pytest.fail("started although never ready")
''')

INTERRUPTED = textwrap.dedent('''
    import os
    import sys
    from pathlib import Path

    from tests.served import running

    SPAWNER = {spawner!r}


    def test_ctrl_c_while_it_runs_ends_it_with_its_children() -> None:
        with running([sys.executable, "-c", SPAWNER, "ready"], dict(os.environ), Path.cwd()):
            raise KeyboardInterrupt
''')


def marked(mark: str) -> list[int]:
    """The live processes whose environment carries `MARK=mark` (zombies have no environment left to read)."""
    wanted = f"{MARK}={mark}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if wanted in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
    return found


def left_behind(mark: str, settle_s: float = 10.0) -> list[int]:
    """The marked processes still there after `settle_s` (one being ended is given that long to go)."""
    deadline = time.monotonic() + settle_s
    while (found := marked(mark)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return found


@pytest.fixture
def mark() -> Iterator[str]:
    """A fresh mark; whatever still carries it when the test ends is killed, so a failing check leaks nothing."""
    value = uuid.uuid4().hex
    yield value
    for pid in marked(value):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def run_inner(source: str, folder: Path, mark: str) -> subprocess.CompletedProcess[str]:
    (folder / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (folder / "test_inner.py").write_text(source.format(spawner=SPAWNER), encoding="utf-8")
    # the cases need pytest alone: none of the installed plugins (hih's, pytest-bdd, Hypothesis, xdist, ...), whose
    # imports would be most of the inner run's CPU
    env = {**os.environ, MARK: mark, "PYTHONPATH": str(ROOT), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    env.pop("PYTEST_XDIST_WORKER", None)
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfE", "test_inner.py"],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_failing_tests_leave_no_process_running(tmp_path: Path, mark: str) -> None:
    done = run_inner(INNER, tmp_path, mark)
    assert done.stdout.splitlines()[-1].startswith("5 failed in"), done.stdout + done.stderr
    assert left_behind(mark) == [], done.stdout


def test_ctrl_c_in_a_test_leaves_no_process_running(tmp_path: Path, mark: str) -> None:
    done = run_inner(INTERRUPTED, tmp_path, mark)
    assert done.returncode == pytest.ExitCode.INTERRUPTED, done.stdout + done.stderr
    assert left_behind(mark) == [], done.stdout


def test_the_workers_of_a_served_mock_end_when_it_is_killed(tmp_path: Path, mark: str) -> None:
    hih = str(Path(sys.executable).with_name("hih"))
    # its scratch state folder, which a killed process cannot remove, goes under the test's own folder
    env = {k: v for k, v in os.environ.items() if k != "HIH_ADMIN_TOKEN"} | {MARK: mark, "TMPDIR": str(tmp_path)}
    with running([hih, "mock", "serve", "--interface", "lis", "--workers", "2"], env, tmp_path, timeout=120) as (
            process, banner):
        assert banner["lis"].startswith("mllp://127.0.0.1:")
        assert len(marked(mark)) == 3, "the serving process and its two workers"
        assert workers_scratch.sweep(tmp_path, young_s=0.0) == [], "its scratch folder is held while it serves"
        # outright, and the serving process alone: nothing of it gets to stop its workers
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(10) == -signal.SIGKILL
        assert left_behind(mark, settle_s=30.0) == []
    # the folder it could not remove is the next serve's to sweep (mocks/workers_scratch.py)
    assert [p.name[:len(workers_scratch.PREFIX)] for p in workers_scratch.sweep(tmp_path, young_s=0.0)] == [
        workers_scratch.PREFIX]


def test_a_child_asking_to_die_with_its_parent_does_so_when_the_parent_is_killed(tmp_path: Path, mark: str) -> None:
    """The child below watches nothing itself: only the kernel's signal on its parent's death can end it."""
    child = ("import os, time; from harness.lifeline import die_with_parent; "
             "print('ready' if die_with_parent(os.getppid()) else 'orphaned', flush=True); time.sleep(600)")
    parent = f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {child!r}]); time.sleep(600)"
    env = {**os.environ, MARK: mark, "PYTHONPATH": str(ROOT)}
    with running([sys.executable, "-c", parent], env, tmp_path, timeout=60) as (process, _):
        assert len(marked(mark)) == 2
        os.kill(process.pid, signal.SIGKILL)  # the parent alone
        assert process.wait(10) == -signal.SIGKILL
        assert left_behind(mark, settle_s=30.0) == []


def test_the_pytest_processes_of_hih_run_end_when_it_is_killed(tmp_path: Path, mark: str) -> None:
    """`hih run --workers 2` killed outright while a scenario hangs: its pytest process and the xdist workers, in a
    process group of their own, stop by themselves."""
    hih = str(Path(sys.executable).with_name("hih"))
    env = {**os.environ, MARK: mark, "TMPDIR": str(tmp_path)}  # the run's work folders go under the test's folder
    command = [hih, "run", "--interface", "insurance", "--workers", "2", "--connector",
               "insurance=tests.data.connectors.hanging_connector:make", "--report-dir", str(tmp_path / "reports"),
               "--no-signoff-pdf"]
    with started(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as run:
        assert run.stdout is not None
        readable, _, _ = select.select([run.stdout], [], [], 120)
        assert readable and run.stdout.readline().startswith("hih run: "), "collected within 120 s"
        assert len(marked(mark)) >= 4, "hih, its pytest process and two xdist workers"
        os.kill(run.pid, signal.SIGKILL)  # hih alone: nothing of it gets to stop pytest
        assert run.wait(10) == -signal.SIGKILL
        assert left_behind(mark, settle_s=30.0) == []


def test_a_served_mock_stopped_while_its_workers_start_ends_them_and_removes_its_scratch(
        tmp_path: Path, mark: str) -> None:
    """SIGTERM (a cancelled job, `docker stop`) after the serving process made its scratch folder, before its workers
    are ready: it stops them and removes the folder, as a stop after the start does."""
    hih = str(Path(sys.executable).with_name("hih"))
    env = {k: v for k, v in os.environ.items() if k != "HIH_ADMIN_TOKEN"} | {MARK: mark, "TMPDIR": str(tmp_path)}
    killed = workers_scratch.make(tmp_path)  # a serve killed outright before: its folder, no longer held
    os.close(killed.fd)
    past = time.time() - 2 * workers_scratch.YOUNG_S
    os.utime(killed.path, (past, past))
    with started([hih, "mock", "serve", "--interface", "lis", "--workers", "2"], cwd=tmp_path, env=env,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as serving:
        deadline = time.monotonic() + 60
        while set(tmp_path.glob("hih-workers-*")) - {killed.path} == set() and time.monotonic() < deadline:
            assert serving.poll() is None, "the serving process ended before it made its scratch folder"
            time.sleep(0.01)
        assert set(tmp_path.glob("hih-workers-*")) - {killed.path}, "a scratch folder within 60 s"
        assert not killed.path.exists(), "the killed serve's folder swept at the start"
        serving.send_signal(signal.SIGTERM)
        assert serving.wait(30) != -signal.SIGTERM, "ended by its own stop, not by the signal's default"
    assert list(tmp_path.glob("hih-workers-*")) == []
    assert left_behind(mark, settle_s=30.0) == []
