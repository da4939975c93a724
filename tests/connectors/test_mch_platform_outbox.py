"""The reference maternal-child connector's outbox across a crash: a real process uploads records to a mock on a
socket, is killed with SIGKILL after the platform answered but before the outbox recorded the answer, and is
started again on the same outbox. The platform must end with every record exactly once, none sent twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.contract.loader import ContractStore
from mocks.mch_platform import MchPlatformMock
from mocks.registry import create_mock
from mocks.transport.runtime import Runtime
from tests.conftest import ROOT

COUNT = 5


@pytest.fixture
def platform() -> Iterator[MchPlatformMock]:
    runtime = Runtime().start()
    mock = create_mock(ContractStore().load("mch-platform"))
    assert isinstance(mock, MchPlatformMock)
    mock.start(runtime)
    yield mock
    runtime.stop()


def child(platform: MchPlatformMock, outbox: Path, *args: str) -> subprocess.Popen[str]:
    folder = str(platform.contract.folder)
    return subprocess.Popen([sys.executable, "-m", "tests.connectors.mch_outbox_child", f"{platform.service_url}?wsdl",
                             str(outbox), folder, *args], cwd=ROOT, stdout=subprocess.PIPE, text=True)


@pytest.mark.parametrize(("mode", "stop_at"), [("single", 3), ("batch", 1)])
def test_a_killed_process_resumes_and_every_record_arrives_once(platform: MchPlatformMock, tmp_path: Path,
                                                                mode: str, stop_at: int) -> None:
    outbox = tmp_path / "outbox.sqlite"
    first = child(platform, outbox, mode, str(COUNT), str(stop_at))
    assert first.stdout is not None
    line = first.stdout.readline()  # blocks until the reply arrived (or the child ended)
    assert line.strip() == "REPLIED", f"the child ended early: {line!r}"
    os.kill(first.pid, signal.SIGKILL)
    assert first.wait(timeout=30) == -signal.SIGKILL
    first.stdout.close()
    before = len(platform.records())
    assert before == (stop_at if mode == "single" else COUNT), "the platform kept what it answered"

    second = child(platform, outbox, "resume", str(COUNT))
    out, _ = second.communicate(timeout=60)
    assert second.returncode == 0, out
    assert out.strip().endswith(f"DONE {COUNT - before + (1 if mode == 'single' else COUNT)}"), out

    numbers = [r["recordNo"] for r in platform.records()]
    assert sorted(numbers) == [f"CR{i:04d}" for i in range(1, COUNT + 1)], "every record, each exactly once"
    assert all(r["version"] == 1 for r in platform.records())
    assert all(platform.uploads_of(n) == 1 for n in numbers), "none was sent twice"
    assert [e.operation for e in platform.journal.entries("QueryUploadResult")], "the in-flight records were confirmed"
