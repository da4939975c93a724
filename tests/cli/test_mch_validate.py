"""`hih validate --interface mch-platform`: a bare record document (its type from the root element) and a full SOAP
envelope carrying one, under both contract versions (2025.1 requires the delivery record's postpartum blood loss)."""

from __future__ import annotations

import pytest

from harness.cli import main
from tests.conftest import DATA

MCH = DATA / "mch"


def validate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["validate", "--interface", "mch-platform", *args])
    return code, capsys.readouterr().out


def test_a_bare_record_is_typed_from_its_root(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = validate(capsys, str(MCH / "delivery-2025.1.xml"))
    assert (code, out.strip()) == (0, f"{MCH / 'delivery-2025.1.xml'}: ok payload DELIVERY")


def test_the_policy_change_shows_per_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = validate(capsys, str(MCH / "delivery-2024.1.xml"))
    assert code == 1
    assert "ERROR /DeliveryRecord/newborn" in out and "postpartumBloodLossMl" in out
    code, out = validate(capsys, "--contract-version", "2024.1", str(MCH / "delivery-2024.1.xml"))
    assert (code, out.strip().endswith("ok payload DELIVERY")) == (0, True)


def test_findings_name_the_element_and_the_value_set(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = validate(capsys, str(MCH / "screening-invalid.xml"))
    assert code == 1
    lines = out.strip().splitlines()
    assert len(lines) == 2
    assert "ERROR /NewbornScreening/sex [facet 'enumeration'] The value '3'" in lines[0]
    assert "ERROR /NewbornScreening/gestationalWeeks [facet 'minInclusive']" in lines[1]


def test_an_envelope_checks_the_record_it_carries(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = validate(capsys, str(MCH / "upload-record-request.xml"))
    assert (code, out.strip().endswith("ok request UploadRecord")) == (0, True)
    code, out = validate(capsys, "--contract-version", "2024.1", str(MCH / "upload-record-request.xml"))
    assert code == 1
    assert "ERROR /Envelope/Body/UploadRecord/payload#/DeliveryRecord/postpartumBloodLossMl" in out
