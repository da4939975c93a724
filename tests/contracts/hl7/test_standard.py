"""Structure from the HL7 standard, not only the profile: fields beyond a segment's definition in the message's
version, fields the profile does not list checked against their standard type, segments run together."""

from __future__ import annotations

import pytest

from harness.contract.hl7 import standard
from harness.contract.hl7.contract import HL7Validator
from harness.contract.hl7.standard import StandardSegment
from tests.contracts.hl7 import messages as m
from tests.contracts.hl7.test_validation import check, edit, findings, segment, set_field


# -- the definitions -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("version", standard.VERSIONS)
def test_every_bundled_version_loads(version: str) -> None:
    segments = standard.segments(version)
    assert "MSH" in segments and "PID" in segments and segments["MSH"].width >= 14
    assert standard.segments(version) is segments  # loaded once, cached


def _obx(version: str) -> StandardSegment:
    found = standard.segment(version, "OBX")
    assert found is not None, f"the standard of v{version} defines OBX"
    return found


def test_definitions_differ_by_version() -> None:
    assert [_obx(v).width for v in ("2.3", "2.4", "2.5.1", "2.8")] == [17, 19, 25, 28]
    obx14 = _obx("2.5.1").fields[13]
    assert (obx14.type, obx14.components) == ("TS", 2)
    assert _obx("2.8").fields[13].type == "DTM"
    assert _obx("2.5.1").fields[19].max == 0  # OBX-20: reserved in v2.5.1
    assert standard.segment("2.5.1", "ZDS") is None and standard.segment(None, "OBX") is None


@pytest.mark.parametrize(("written", "library"), [("2.5.1", "2.5.1"), (" 2.3.1 ", "2.3.1"), ("2.9", None),
                                                  ("", None), ("2.5.1.1", None)])
def test_library_version(written: str, library: str | None) -> None:
    assert standard.library_version(written) == library


# -- fields beyond the definition ----------------------------------------------------------------------------------
def test_a_field_beyond_the_segments_definition_is_located(lis: HL7Validator) -> None:
    text = set_field(m.lis_oru(1), "OBX", 27, "x")  # OBX has 25 fields in v2.5.1; OBX-26 left empty

    found = findings(lis, text)

    assert [(f.severity.value, f.location, f.rule) for f in found] == [("error", "OBX-27", "extra_fields")]
    assert "OBX has 25 fields in HL7 v2.5.1" in found[0].message


def test_empty_fields_beyond_the_definition_are_no_finding(lis: HL7Validator) -> None:
    assert check(lis, edit(m.lis_oru(1), "|20240105090000\r", "|20240105090000" + "|" * 20 + "\r")) == []


def test_the_limit_is_the_messages_version(lis23: HL7Validator) -> None:
    text = set_field(m.lis24_oru(1), "OBX", 20, "x")  # OBX has 19 fields in v2.4, 25 in v2.5.1

    assert check(lis23, text) == [("error", "OBX-20", "extra_fields")]


# -- fields the profile does not list ------------------------------------------------------------------------------
@pytest.mark.parametrize(("position", "value", "expected"), [
    (9, "abc", [("error", "OBX-9", "format")]),              # NM probability
    (12, "F", [("error", "OBX-12", "format")]),              # TS: effective date of reference range
    (12, "20240105", []),
    (13, "x" * 250, [("warning", "OBX-13", "length")]),     # ST: 199 at most
    (15, "a^b^c^d^e^f^g", [("error", "OBX-15.7", "components")]),  # CE: 6 components
    (15, "a^b^c^d^e^f^^", []),                               # trailing empty components are harmless
    (20, "x", [("error", "OBX-20", "not_supported")]),       # reserved in v2.5.1
    (18, "EQ01^LIS", []),
])
def test_a_field_the_profile_does_not_list_is_checked_against_its_standard_type(
        lis: HL7Validator, position: int, value: str, expected: list[tuple[str, str, str]]) -> None:
    assert check(lis, set_field(m.lis_oru(1), "OBX", position, value)) == expected


def test_a_field_shifted_by_one_shows_where(lis: HL7Validator) -> None:
    obx = segment(m.lis_oru(1), "OBX")
    parts = obx.split("|")
    shifted = "|".join([*parts[:6], "", *parts[6:]])  # an empty field slipped in after OBX-5

    found = check(lis, m.lis_oru(1).replace(obx, shifted))

    assert ("error", "OBX-11", "usage") in found      # the status is no longer where it belongs ...
    assert ("error", "OBX-12", "format") in found     # ... but where a date is
    assert ("error", "OBX-9", "format") in found      # the flag N where a probability (NM) is


# -- segments run together -----------------------------------------------------------------------------------------
def test_a_segment_id_inside_a_field_is_a_missing_terminator(lis: HL7Validator) -> None:
    text = m.lis_oru(2)
    obx1 = segment(text, "OBX")
    obr = segment(text, "OBR")
    glued = text.replace(obr + "\r" + obx1, obr + "|" + obx1)  # the CR before the first OBX became a field separator

    found = findings(lis, glued)

    assert [(f.severity.value, f.location, f.rule) for f in found] == [("error", "OBR-26", "segment_terminator")]
    assert "OBR-26 holds 'OBX'" in found[0].message and "segment terminator" in found[0].message


def test_a_glued_segment_is_still_validated(lis: HL7Validator) -> None:
    text = m.lis_oru(2)
    obx1 = segment(text, "OBX")
    glued = text.replace("\r" + obx1, "|" + obx1.replace("|N|", "|Q|"))

    found = check(lis, glued)

    assert found == [("error", "OBR-26", "segment_terminator"), ("error", "OBX[1]-8", "value_set")]


def test_the_header_glued_to_nothing_and_a_pid_run_into_msh(lis: HL7Validator) -> None:
    text = m.lis_oru(1)
    glued = text.replace("UNICODE UTF-8\rPID|", "UNICODE UTF-8|PID|", 1)

    assert check(lis, glued) == [("error", "MSH-19", "segment_terminator")]


def test_a_field_that_merely_looks_like_an_id_of_another_message(lis: HL7Validator) -> None:
    """Only the profile's own segment IDs are read as glued segments: MRG is no segment of an ORU^R01."""
    assert check(lis, set_field(m.lis_oru(1), "OBX", 13, "MRG")) == []


def test_a_failing_segment_of_many_empty_standard_fields_is_settled_at_once(lis: HL7Validator) -> None:
    """OBR has 50 fields in v2.5.1, many of them repeating; with those empty and a value past the last, the compiled
    expression fails, and must not try the empty fields' ways of being empty one against another (that would not
    finish in any time). The walk then says what is wrong."""
    text = set_field(m.lis_oru(1), "OBR", 55, "a^b")

    assert check(lis, text) == [("error", "OBR-55", "extra_fields")]
