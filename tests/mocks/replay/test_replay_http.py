"""`hih mock serve --replay DIR` over HTTP, all over real sockets and real processes: a recording made by a running
`hih proxy` in front of `hih mock serve` (insurance, JSON; blood centre, SOAP), then a replaying mock answering the
same flow the same, with msgid and times (volatile) changed; a request the recording lacks gets an error or the
contract's behaviour as `--unrecorded` says; the journal marks what came from the recording."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.contract.loader import ContractStore
from harness.contract.signing import tif_headers
from mocks.insurance import TEST_PAASID, TEST_SECRET
from tests.conftest import CONTRACTS, envelope
from tests.proxy.conftest import blood_center_flow, insurance_flow, mock_serve, proxy_serve

pytestmark = pytest.mark.slow


@dataclass
class Recorded:
    folder: Path
    certno: str
    live: dict[str, Any]
    """What the flow returned against the live partner, through the proxy."""


RECORDING = pytest.mark.xdist_group("replay_insurance_recording")
"""The tests that replay `insurance_recording`: on one xdist worker (`--dist loadgroup`), so that it is recorded once,
not once on every worker that gets one of them."""


@pytest.fixture(scope="module")
def insurance_recording(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    """The cashier's flow recorded by `hih proxy` in front of the insurance mock (the partner's test platform)."""
    where = tmp_path_factory.mktemp("record")
    with mock_serve("insurance", where) as upstream:
        certno = upstream.population("insurance")["people"][0]["certno"]
        with proxy_serve("insurance", upstream.where, where, "--record", str(where / "rec")) as banner:
            live = insurance_flow(banner["insurance"], certno)
    return Recorded(where / "rec", certno, live)


def journal(admin: str, interface: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = httpx.get(f"{admin}{interface}/journal?limit=1000", timeout=5).json()["entries"]
    return entries


def post(base_url: str, infno: str, path: str, data: dict[str, Any], sign_no: str = "") -> dict[str, Any]:
    body = envelope(infno, data, sign_no=sign_no)
    signing = ContractStore(CONTRACTS).load("insurance").signing
    headers = {**tif_headers(signing, TEST_PAASID, TEST_SECRET), "Content-Type": "application/json;charset=utf-8"}
    reply = httpx.post(f"{base_url}/fsi/api/{path}", content=json.dumps(body, ensure_ascii=False).encode(),
                       headers=headers, timeout=5)
    answer: dict[str, Any] = reply.json()
    return answer


def unrecorded_flow(base_url: str, certno: str) -> list[dict[str, Any]]:
    """A sign-in by another operator and a 1101 for another person: requests the recording never saw."""
    signed_in = post(base_url, "9001", "signInSignOutService/signIn",
                     {"signIn": {"opter_no": "100999", "mac": "00-16-3E-00-00-09", "ip": "10.0.0.99"}})
    sign_no = (signed_in.get("output") or {}).get("signinoutb", {}).get("sign_no") or "20260101000000000001"
    person = post(base_url, "1101", "fsiPsnInfoService/queryPsnInfo",
                  {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": certno, "psn_cert_type": "01",
                            "certno": certno}}, sign_no)
    return [signed_in, person]


@RECORDING
def test_replaying_answers_the_same_flow_the_same_with_volatile_fields_changed(insurance_recording: Recorded,
                                                                              tmp_path: Path) -> None:
    with mock_serve("insurance", tmp_path, "--replay", str(insurance_recording.folder)) as replaying:
        again = insurance_flow(replaying.where, insurance_recording.certno, otp="OTP-PROXY-1")
        entries = journal(replaying.admin, "insurance")

    live = insurance_recording.live
    assert again["msgid"] != live["msgid"], "a fresh msgid (volatile) was sent"
    assert (again["mdtrt_id"], again["setl_id"]) == (live["mdtrt_id"], live["setl_id"]), "the recorded answers"
    assert again["medins_setl_id"] == again["msgid"], "what the partner echoes is taken from this request"
    assert [e["operation"] for e in entries] == ["9001", "1101", "2201", "2204", "2207"]
    marks = [e["meta"]["replay"] for e in entries]
    assert all(m["recording"] == str(insurance_recording.folder) and m["matched_by"] == "fields" for m in marks)
    assert [m["exchange"] for m in marks] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("unrecorded", ["error", "contract"])
@RECORDING
def test_a_request_the_recording_lacks_gets_an_error_or_the_contracts_answer(
        insurance_recording: Recorded, tmp_path: Path, unrecorded: str) -> None:
    with mock_serve("insurance", tmp_path, "--replay", str(insurance_recording.folder),
                    "--unrecorded", unrecorded) as replaying:
        other = replaying.population("insurance")["people"][1]["certno"]
        answers = unrecorded_flow(replaying.where, other)
        entries = journal(replaying.admin, "insurance")

    assert [e["operation"] for e in entries] == ["9001", "1101"]
    for entry in entries:
        assert entry["meta"]["replay"]["unrecorded"] is True and entry["meta"]["replay"]["answered_by"] == unrecorded
    if unrecorded == "error":
        for answer, code in zip(answers, ("9001", "1101"), strict=True):
            assert answer["infcode"] == -1 and "录制中没有此请求的应答" in answer["err_msg"]
            assert f"no recorded answer for this {code}" in answer["err_msg"]
    else:
        assert [a["infcode"] for a in answers] == [0, 0], [a["err_msg"] for a in answers]
        assert answers[1]["output"]["baseinfo"]["certno"] == other, "the mock's own answer, by the contract"


def test_the_blood_centre_replays_its_soap_answers(tmp_path: Path) -> None:
    for side in ("a", "b"):
        (tmp_path / side).mkdir()
    with mock_serve("blood-center", tmp_path) as upstream:
        with proxy_serve("blood-center", upstream.where, tmp_path, "--record", str(tmp_path / "rec")) as banner:
            live = blood_center_flow(f"{banner['blood-center']}/BloodCenterService?wsdl", tmp_path / "a")
    with mock_serve("blood-center", tmp_path, "--replay", str(tmp_path / "rec")) as replaying:
        again = blood_center_flow(f"{replaying.where}/BloodCenterService?wsdl", tmp_path / "b")
        entries = [e for e in journal(replaying.admin, "blood-center") if e["operation"]]

    assert again == live
    assert [e["operation"] for e in entries] == ["SubmitBloodOrder", "QueryOrderFeedback", "QueryNotices"]
    assert all(e["meta"]["replay"]["matched_by"] in ("fields", "correlation") for e in entries)


@RECORDING
def test_a_recording_of_another_interface_is_a_one_line_usage_error(insurance_recording: Recorded,
                                                                    tmp_path: Path) -> None:
    import subprocess
    import sys

    hih = str(Path(sys.executable).with_name("hih"))
    done = subprocess.run([hih, "mock", "serve", "--interface", "lis", "--replay", str(insurance_recording.folder)],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)

    assert done.returncode == 2
    assert "a recording of insurance" in done.stderr and done.stderr.strip().count("\n") == 0
