"""The reference maternal-child connector's outbox across a crash: a real process uploads records to a mock on a
socket, is killed with SIGKILL after the platform answered but before the outbox recorded the answer, and is
started again on the same outbox. The platform must end with every record exactly once, none sent twice. And a
login that gets no answer in time is one lost attempt like any other call, so a delivery tries again instead of giving
up at once (after a restart the first call logs in afresh; on a loaded machine it is the slowest)."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from connectors.mch_platform import MchPlatformConnector
from features.steps.mch_samples import sample
from harness.contract.loader import ContractStore
from harness.ports.mch_platform import MchSettings, Unavailable
from mocks.mch_platform import TEST_ORG_CODE, TEST_PASSWORD, MchPlatformMock
from mocks.registry import create_mock
from mocks.transport.runtime import Runtime
from tests.conftest import ROOT
from tests.served import started

COUNT = 5


@pytest.fixture
def platform() -> Iterator[MchPlatformMock]:
    runtime = Runtime().start()
    mock = create_mock(ContractStore().load("mch-platform"))
    assert isinstance(mock, MchPlatformMock)
    mock.start(runtime)
    yield mock
    runtime.stop()


@pytest.fixture
def children() -> Iterator[ExitStack]:
    """The hospital processes a test starts, each ended with its group when the test ends, whether it passed or not."""
    with ExitStack() as stack:
        yield stack


def child(children: ExitStack, platform: MchPlatformMock, outbox: Path, *args: str) -> subprocess.Popen[str]:
    folder = str(platform.contract.folder)
    return children.enter_context(started(
        [sys.executable, "-m", "tests.connectors.mch_outbox_child", f"{platform.service_url}?wsdl", str(outbox),
         folder, *args], cwd=ROOT, stdout=subprocess.PIPE, text=True))


@pytest.mark.parametrize(("mode", "stop_at"), [("single", 3), ("batch", 1)])
def test_a_killed_process_resumes_and_every_record_arrives_once(platform: MchPlatformMock, tmp_path: Path,
                                                                children: ExitStack, mode: str, stop_at: int) -> None:
    outbox = tmp_path / "outbox.sqlite"
    first = child(children, platform, outbox, mode, str(COUNT), str(stop_at))
    assert first.stdout is not None
    readable, _, _ = select.select([first.stdout], [], [], 60)
    assert readable, "the child said nothing within 60 s"
    line = first.stdout.readline()  # the reply arrived (or the child ended)
    assert line.strip() == "REPLIED", f"the child ended early: {line!r}"
    os.kill(first.pid, signal.SIGKILL)
    assert first.wait(timeout=30) == -signal.SIGKILL
    first.stdout.close()
    before = len(platform.records())
    assert before == (stop_at if mode == "single" else COUNT), "the platform kept what it answered"

    second = child(children, platform, outbox, "resume", str(COUNT))
    out, _ = second.communicate(timeout=60)
    assert second.returncode == 0, out
    assert out.strip().endswith(f"DONE {COUNT - before + (1 if mode == 'single' else COUNT)}"), out

    numbers = [r["recordNo"] for r in platform.records()]
    assert sorted(numbers) == [f"CR{i:04d}" for i in range(1, COUNT + 1)], "every record, each exactly once"
    assert all(r["version"] == 1 for r in platform.records())
    assert all(platform.uploads_of(n) == 1 for n in numbers), "none was sent twice"
    assert [e.operation for e in platform.journal.entries("QueryUploadResult")], "the in-flight records were confirmed"


TIMEOUT_S = 0.3


def connector(platform: MchPlatformMock, outbox: Path) -> MchPlatformConnector:
    return MchPlatformConnector(MchSettings(f"{platform.service_url}?wsdl", TEST_ORG_CODE, TEST_PASSWORD, str(outbox),
                                            timeout_s=TIMEOUT_S, contract_folder=str(platform.contract.folder)))


def test_a_login_lost_once_after_a_restart_does_not_fail_the_recovery(platform: MchPlatformMock,
                                                                       tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.sqlite"
    first = connector(platform, outbox)
    first.login()
    platform.inject("no_reply", operation="UploadRecord", phase="after", delay_s=3.0)
    platform.inject("reset", phase="before", times=None)
    with pytest.raises(Unavailable):
        first.upload(sample("BIRTH_DEFECT", "RL0001"))
    assert first.pending() == 1
    first.close()

    platform.faults.clear()
    platform.inject("no_reply", operation="Login", phase="before", delay_s=3.0)  # the restarted one's first login
    again = connector(platform, outbox)
    try:
        results = again.flush()
        assert [r.status for r in results] == ["ACCEPTED"]
        assert again.pending() == 0
    finally:
        again.close()
    assert platform.uploads_of("RL0001") == 1
    assert len(platform.records(record_no="RL0001")) == 1


def test_a_platform_that_never_answers_a_login_is_still_unavailable(platform: MchPlatformMock, tmp_path: Path) -> None:
    platform.inject("no_reply", operation="Login", phase="before", delay_s=3.0, times=None)
    quiet = connector(platform, tmp_path / "outbox.sqlite")
    try:
        with pytest.raises(Unavailable):
            quiet.upload(sample("BIRTH_DEFECT", "RL0002"))
        assert quiet.pending() == 1
    finally:
        quiet.close()
