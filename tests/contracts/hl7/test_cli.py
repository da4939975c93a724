"""`hih validate --interface lis|pacs FILE.hl7`: files read as bytes, message types found from MSH-9."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main
from tests.conftest import DATA

HL7 = DATA / "hl7"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str], str]:
    code = main(["validate", *args])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


def test_valid_files_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    files = [HL7 / "lis-oru-r01-final.hl7", HL7 / "lis-oru-r01-critical.hl7"]
    code, out, _ = run(capsys, "--interface", "lis", *map(str, files))

    assert code == 0
    assert out == [f"{files[0]}: ok message ORU^R01", f"{files[1]}: ok message ORU^R01"]


def test_an_error_finding_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    file = HL7 / "lis-oml-o21-no-specimen.hl7"
    code, out, _ = run(capsys, "--interface", "lis", str(file))

    assert code == 1
    assert out == [f"{file}: ERROR SPM required group SPECIMEN is missing in OBSERVATION_REQUEST"]


def test_warnings_alone_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    file = HL7 / "lis-oru-r01-crlf.hl7"
    code, out, _ = run(capsys, "--interface", "lis", str(file))

    assert code == 0
    assert out == [f"{file}: WARNING / segments end with CR LF; HL7 v2 ends them with CR alone"]


def test_a_batch_file_validates_each_message(capsys: pytest.CaptureFixture[str]) -> None:
    file = HL7 / "lis-batch.hl7"
    code, out, _ = run(capsys, "--interface", "lis", str(file))
    assert (code, out) == (0, [f"{file}: ok batch ORU^R01"])

    code, out, _ = run(capsys, "--interface", "lis", "--contract-version", "2023.1", str(file))
    assert code == 1
    assert f"{file}: ERROR MSG[2]/MSH-12 HL7 version 2.5.1 is not accepted for ORU^R01 (accepted: 2.4)" in out


def test_gb18030_file_with_blank_msh18_on_the_2023_contract(capsys: pytest.CaptureFixture[str]) -> None:
    file = HL7 / "lis-2023-oru-r01-gb18030-blank-msh18.hl7"
    code, out, _ = run(capsys, "--interface", "lis", "--contract-version", "2023.1", str(file))
    assert code == 0
    assert out == [(f"{file}: WARNING MSH-18 no character set declared but the bytes are not ASCII; decoded as the "
                    "contract default GB 18030-2000")]

    code, out, _ = run(capsys, "--interface", "lis", str(file))
    assert code == 1 and any("do not decode as UNICODE UTF-8" in line for line in out)


def test_pacs_files(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--interface", "pacs", str(HL7 / "pacs-omi-o23.hl7"), str(HL7 / "pacs-oru-r01-preliminary.hl7"))

    assert code == 0 and [line.split(": ", 1)[1] for line in out] == ["ok message OMI^O23", "ok message ORU^R01"]


def test_a_message_of_the_other_interface(capsys: pytest.CaptureFixture[str]) -> None:
    file = HL7 / "pacs-omi-o23.hl7"
    code, out, _ = run(capsys, "--interface", "lis", str(file))

    assert code == 1 and out[0].startswith(f"{file}: ERROR MSH-9.1 message type OMI^O23 is not in contract lis@2024.1")


def test_garbage_and_empty_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    garbage, empty = tmp_path / "garbage.hl7", tmp_path / "empty.hl7"
    garbage.write_bytes(b"\x00\xffnot hl7")
    empty.write_bytes(b"")
    code, out, _ = run(capsys, "--interface", "lis", str(garbage), str(empty))

    assert code == 1
    assert out[0].startswith(f"{garbage}: ERROR / not an HL7 v2 message")
    assert out[1] == f"{empty}: ERROR / no HL7 message in the capture"


def test_a_missing_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "--interface", "lis", str(tmp_path / "nope.hl7"))

    assert code == 2 and "nope.hl7: cannot read" in err
