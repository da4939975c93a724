"""`hih validate --interface NAME DIR` on a recording made by the proxy over real sockets: a clean one exits 0 with
one `ok` per message, a tampered one names the finding and its line and exits 1, a folder that is not a recording
is a one-line usage error (exit 2)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cli import main
from harness.contract import recording
from harness.proxy.core import ProxyOptions, start
from harness.report.masking import Masker
from mocks.transport.runtime import Runtime
from tests.conftest import CONTRACTS
from tests.proxy.conftest import insurance_flow, mock_serve

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The cashier's flow recorded by the proxy in front of `hih mock serve --interface insurance`."""
    where = tmp_path_factory.mktemp("validate")
    runtime = Runtime().start()
    try:
        with mock_serve("insurance", where) as upstream:
            proxy = start(ProxyOptions("insurance", upstream.where, record=where / "rec", contracts_dir=CONTRACTS),
                          runtime, Masker())
            assert proxy.endpoint is not None and proxy._listener is not None and proxy.recorder is not None
            certno = upstream.population("insurance")["people"][0]["certno"]
            insurance_flow(proxy.endpoint.url, certno)
            runtime.call(proxy._listener.stop())
            proxy.recorder.close()
    finally:
        runtime.stop()
    yield where / "rec"


def validate(folder: Path) -> int:
    return main(["validate", "--interface", "insurance", "--contracts-dir", str(CONTRACTS), str(folder)])


def test_a_clean_recording_exits_0_with_each_message_ok(recorded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = validate(recorded)

    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert len(lines) == 10 and all(": ok " in line for line in lines)
    assert lines[0].startswith(f"{recorded / recording.LINES}:1: ok request 9001")


def test_a_tampered_recording_names_the_finding_and_exits_1(recorded: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    tampered = tmp_path / "tampered"
    tampered.mkdir()
    (tampered / recording.META).write_bytes((recorded / recording.META).read_bytes())
    lines = (recorded / recording.LINES).read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        message = json.loads(line)
        if message["transaction"] == "2207" and message["direction"] == "request":
            body = json.loads(base64.b64decode(message["raw"]))
            del body["input"]["data"]["mdtrt_id"]
            message["text"] = json.dumps(body, ensure_ascii=False)
            message["raw"] = base64.b64encode(message["text"].encode()).decode()
            lines[number] = json.dumps(message, ensure_ascii=False)
            changed = number + 1
    (tampered / recording.LINES).write_text("\n".join(lines) + "\n", encoding="utf-8")

    code = validate(tampered)

    printed = capsys.readouterr().out
    assert code == 1
    [finding] = [line for line in printed.splitlines() if "ERROR" in line]
    assert finding.startswith(f"{tampered / recording.LINES}:{changed}: ERROR /input/data/mdtrt_id")
    assert printed.count(": ok ") == 9


@pytest.mark.parametrize("make", ["empty", "report", "broken-meta"])
def test_a_folder_that_is_not_a_recording_is_a_one_line_usage_error(tmp_path: Path, make: str,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "not-a-recording"
    folder.mkdir()
    if make == "report":
        (folder / "summary.json").write_text("{}", encoding="utf-8")
    if make == "broken-meta":
        (folder / recording.LINES).write_text("", encoding="utf-8")
        (folder / recording.META).write_text("{not json", encoding="utf-8")

    code = validate(folder)

    error = capsys.readouterr().err
    assert code == 2 and error.count("\n") == 1 and str(folder) in error
    assert ("not a recording of hih proxy" if make != "broken-meta" else "not JSON") in error
