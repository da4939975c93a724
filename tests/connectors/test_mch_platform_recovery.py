"""The reference maternal-child connector recovering its outbox after a restart, over a real socket: a login that
gets no answer in time is one lost attempt like any other call, so the delivery tries again instead of giving up at
once (on a loaded machine the first call after a restart, a fresh login, is the slowest)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.mch_platform import MchPlatformConnector
from features.steps.mch_samples import sample
from harness.contract.loader import ContractStore
from harness.ports.mch_platform import MchSettings, Unavailable
from mocks.mch_platform import TEST_ORG_CODE, TEST_PASSWORD, MchPlatformMock
from mocks.registry import create_mock
from mocks.transport.runtime import Runtime

TIMEOUT_S = 0.3


@pytest.fixture
def platform() -> Iterator[MchPlatformMock]:
    runtime = Runtime().start()
    mock = create_mock(ContractStore().load("mch-platform"))
    assert isinstance(mock, MchPlatformMock)
    mock.start(runtime)
    yield mock
    runtime.stop()


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
