"""`hih mock serve --replay DIR` over MLLP (lis), real processes and sockets: the LIS reference connector's traffic
recorded by `hih proxy` in front of `hih mock serve`, then answered the same by a replaying mock although MSH-7 and
MSH-10 changed; a message the recording lacks gets an AE naming the recording or the mock's own answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.contracts.hl7 import messages as m
from tests.mocks.mllp.conftest import Peer
from tests.proxy.conftest import lis_flow, mock_serve, proxy_serve

pytestmark = pytest.mark.slow


RECORDING = pytest.mark.xdist_group("replay_lis_recording")
"""The tests that replay `lis_recording`: on one xdist worker (`--dist loadgroup`), so that it is recorded once."""


@pytest.fixture(scope="module")
def lis_recording(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    where = tmp_path_factory.mktemp("record")
    with mock_serve("lis", where) as upstream:
        with proxy_serve("lis", upstream.where.removeprefix("mllp://"), where, "--record", str(where / "rec")) as banner:
            host, _, port = banner["lis"].removeprefix("mllp://").rpartition(":")
            live = lis_flow(host, int(port))
    return where / "rec", live


def journal(admin: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = httpx.get(f"{admin}lis/journal?limit=1000", timeout=5).json()["entries"]
    return [e for e in entries if e["direction"] == "inbound"]


@RECORDING
def test_replaying_acknowledges_the_same_with_new_control_ids(lis_recording: tuple[Path, dict[str, Any]],
                                                              tmp_path: Path) -> None:
    folder, live = lis_recording
    with mock_serve("lis", tmp_path, "--replay", str(folder)) as replaying:
        host, port = replaying.address
        again = lis_flow(host, port)
        entries = journal(replaying.admin)

    assert again == live, "the same acknowledgements, the same filler order number"
    assert len(entries) == 2
    assert all(e["meta"]["replay"]["recording"] == str(folder) for e in entries)
    assert [e["meta"]["replay"]["matched_by"] for e in entries] == ["fields", "fields"]


@RECORDING
@pytest.mark.parametrize("unrecorded", ["error", "contract"])
def test_a_message_the_recording_lacks_gets_an_ae_or_the_mocks_answer(lis_recording: tuple[Path, dict[str, Any]],
                                                                      tmp_path: Path, unrecorded: str) -> None:
    folder, _ = lis_recording
    with mock_serve("lis", tmp_path, "--replay", str(folder), "--unrecorded", unrecorded) as replaying:
        peer = Peer(replaying.address[1])
        peer.message(m.lis_adt(control="HIS7001", name="李四"))
        ack = peer.ack(timeout=5)
        peer.close()
        [entry] = journal(replaying.admin)

    assert ack.get("MSA-2") == "HIS7001"
    assert entry["meta"]["replay"]["unrecorded"] is True and entry["meta"]["replay"]["answered_by"] == unrecorded
    if unrecorded == "error":
        assert ack.get("MSA-1") == "AE" and "no recorded answer" in ack.to_er7()
    else:
        assert ack.get("MSA-1") == "AA" and "no recorded answer" not in ack.to_er7()
