"""The wild corpus (tests/data/hl7/wild/): shapes real senders produce, each file with its expected findings and
acknowledgements, checked through `hih validate` and over MLLP to the mock LIS and the mock PACS.

A folder is named for the contract the files are checked against (`lis-2024.1`); each `NAME.hl7` has a
`NAME.expected.yaml`:

    validate: {exit: 1, findings: ["ERROR OBR-17 segment_terminator", ...]}    # hih validate, in printed order
    mllp:
      replies: [{message: ACK^O21, code: AE, acknowledges: W0107, errors: ["OBR^1^17^1 100"]}]   # [] = none
      journal: ["OML^O21 ERROR OBR-17 segment_terminator", ...]                 # what the mock journaled
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from harness.cli import main
from harness.contract.hl7.charsets import decode_message
from harness.contract.hl7.message import Message, parse
from harness.contract.hl7.mllp import Deframer, frame
from harness.contract.loader import ContractStore
from harness.contract.validate import validate_capture
from mocks.registry import create_mock
from mocks.transport.runtime import Runtime
from tests.conftest import DATA

CORPUS = DATA / "hl7" / "wild"
CASES = sorted(CORPUS.glob("*/*.hl7"))
QUIET_S = 0.5
"""How long to wait for a reply that should not come (and for more replies after the last expected one)."""
_MOCKS: dict[str, Any] = {}


def _contract(path: Path) -> tuple[str, str]:
    interface, version = path.parent.name.rsplit("-", 1)
    return interface, version


def _expected(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = YAML(typ="safe").load(path.with_suffix(".expected.yaml").read_text(encoding="utf-8"))
    return loaded


def _case_id(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


SHAPES: dict[str, Any] = {
    "CR LF segment ends": lambda raw: b"\r\n" in raw,
    "LF segment ends": lambda raw: b"\n" in raw and b"\r" not in raw,
    "HL7 v2.2": lambda raw: b"|P|2.2\r" in raw,
    "HL7 v2.3 with other delimiters": lambda raw: raw.startswith(b"MSH|$~"),
    "a Z-segment": lambda raw: b"\rZ" in raw or b"\nZ" in raw,
    "an FHS/BHS batch": lambda raw: raw.startswith(b"FHS|"),
    "a BHS batch": lambda raw: raw.startswith(b"BHS|"),
    "MSH-18 shifted": lambda raw: b"||CHN|UNICODE UTF-8" in raw,
    "segments run together": lambda raw: b"|SPM|" in raw,
    "NE/NE": lambda raw: b"|NE|NE|" in raw,
    "an ACK as a request": lambda raw: b"|ACK^" in raw,
    "a result sent the wrong way": lambda raw: b"|ORU^R01" in raw and b"|HIS|HOSP|" in raw[:40],
    "GB 18030 Chinese": lambda raw: "张三".encode("gb18030") in raw,
    "UTF-8 Chinese": lambda raw: "张三".encode() in raw,
}


@pytest.mark.parametrize("shape", SHAPES)
def test_the_corpus_has_each_shape_senders_get_wrong(shape: str) -> None:
    assert any(SHAPES[shape](path.read_bytes()) for path in CASES), f"no file with {shape}"


def test_every_file_has_its_expectations_and_both_mocks_are_covered() -> None:
    assert {_contract(p)[0] for p in CASES} == {"lis", "pacs"}
    for path in CASES:
        assert path.with_suffix(".expected.yaml").is_file(), f"{path.name} has no expected findings"
        assert {"validate", "mllp"} <= set(_expected(path))


# -- hih validate ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", CASES, ids=_case_id)
def test_hih_validate(path: Path, capsys: pytest.CaptureFixture[str], store: ContractStore) -> None:
    interface, version = _contract(path)
    expected = _expected(path)["validate"]

    code = main(["validate", "--interface", interface, "--contract-version", version, str(path)])
    lines = capsys.readouterr().out.splitlines()

    assert code == expected["exit"]
    printed = [line.removeprefix(f"{path}: ").split(" ")[:2] for line in lines]  # SEVERITY LOCATION message
    assert printed == ([item.split(" ")[:2] for item in expected["findings"]] or [["ok", expected["kind"]]])
    rules = [f"{f.severity.value.upper()} {f.location or '/'} {f.rule}"
             for f in validate_capture(store.load(interface, version), path.read_bytes()).findings]
    assert rules == expected["findings"]


# -- over MLLP to the mocks ------------------------------------------------------------------------------------------
@pytest.fixture
def mock_for(runtime: Runtime, store: ContractStore) -> Iterator[Any]:
    def started(interface: str, version: str) -> Any:
        key = f"{interface}@{version}"
        if key not in _MOCKS:
            mock = create_mock(store.load(interface, version))
            mock.start(runtime)
            _MOCKS[key] = mock
        mock = _MOCKS[key]
        mock.reset()
        return mock

    yield started


def _exchange(port: int, payload: bytes, expected: int) -> list[bytes]:
    """Send one frame on a fresh connection; every frame that comes back until QUIET_S passes without one."""
    with socket.create_connection(("127.0.0.1", port), timeout=2.0) as sock:
        sock.sendall(frame(payload))
        deframer = Deframer()
        frames: list[bytes] = []
        deadline = time.monotonic() + (5.0 if expected else QUIET_S)
        while time.monotonic() < deadline:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = sock.recv(65536)
            except TimeoutError:
                break
            if not data:
                break
            frames.extend(f.payload for f in deframer.feed(data))
            if len(frames) >= expected:
                deadline = min(deadline, time.monotonic() + QUIET_S)
        return frames


def _errors(ack: Message) -> list[str]:
    """`ERR-2 ERR-3.1` per ERR (v2.5 on), or `segment^sequence^field code` per ERR-1 repetition (v2.4 and before)."""
    cs, ss = ack.seps.component, ack.seps.subcomponent
    out = []
    for seg in ack.all("ERR"):
        if seg.field(3):
            out.append(f"{seg.field(2)} {seg.field(3).split(cs)[0]}".strip())
        for rep in seg.field(1).split(ack.seps.repetition) if seg.field(1) else ():
            parts = rep.split(cs)
            out.append(f"{cs.join(parts[:3])} {parts[3].split(ss)[0] if len(parts) > 3 else ''}".strip())
    return out


def _captured_at(raw: bytes) -> datetime:
    """MSH-7 of the file's first message: when the sender's clock said it was sent (a wild capture is historical)."""
    head = re.search(rb"MSH(.)", raw)
    assert head is not None, "no MSH segment in the capture"
    stamp = raw[head.start():].split(b"\r")[0].split(b"\n")[0].split(head.group(1))[6]
    digits = re.match(rb"\d{8,14}", stamp)
    assert digits is not None, f"MSH-7 {stamp!r} holds no time"
    return datetime.strptime(digits.group().decode().ljust(14, "0"), "%Y%m%d%H%M%S")


def _reply(payload: bytes) -> dict[str, Any]:
    decoded = decode_message(payload)
    msg = parse(decoded.text, decoded.charset)
    if msg.segments and msg.segments[0].name in ("FHS", "BHS"):
        acks = []
        for text in ("MSH" + part for part in msg.to_er7().split("\rMSH")[1:]):
            acks.append(_one(parse(text.split("\rBTS")[0].split("\rFTS")[0])))
        return {"message": "BATCH", "acks": acks}
    return {"message": msg.message_type, **_one(msg)}


def _one(msg: Message) -> dict[str, Any]:
    return {"code": msg.get("MSA-1"), "acknowledges": msg.get("MSA-2"), "errors": _errors(msg)}


@pytest.mark.parametrize("path", CASES, ids=_case_id)
def test_over_mllp_to_the_mock(path: Path, mock_for: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    interface, version = _contract(path)
    expected = _expected(path)["mllp"]
    mock = mock_for(interface, version)
    # the partner's clock set to the capture's time, so its clock_skew check reads the file as it was sent
    offset = _captured_at(path.read_bytes()) - datetime.now()
    monkeypatch.setattr(mock, "clock", lambda: datetime.now() + offset)

    frames = _exchange(mock.endpoint.port, path.read_bytes(), len(expected["replies"]))

    assert [_reply(f) for f in frames] == expected["replies"]
    deadline = time.monotonic() + 2.0
    while not any(e.operation == "BATCH" or not e.meta.get("batch") for e in mock.journal.entries()) \
            and time.monotonic() < deadline:
        time.sleep(0.01)
    journaled = [f"{e.operation} {f.severity.value.upper()} {f.location or '/'} {f.rule}"
                 for e in mock.journal.entries() for f in e.request_findings]
    assert journaled == expected["journal"]
