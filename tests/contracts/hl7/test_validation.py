"""Profile validation, one rule at a time, with NIST-style severities and exact HL7 locations."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.contract.findings import Finding, Severity
from harness.contract.hl7.contract import HL7Validator
from harness.contract.hl7.validator import error_code
from harness.contract.loader import ContractStore, load_contract
from harness.contract.model import Contract
from tests.conftest import CONTRACTS
from tests.contracts.hl7 import messages as m


def check(validator: HL7Validator, text: str, direction: str | None = None) -> list[tuple[str, str, str]]:
    charset = "gb18030" if "GB 18030" in text.split("\r")[0] else "utf-8"
    return [(f.severity.value, f.location, f.rule) for f in validator.check(text.encode(charset), direction).findings]


def findings(validator: HL7Validator, text: str) -> list[Finding]:
    return validator.check(text.encode()).findings


def edit(text: str, old: str, new: str) -> str:
    assert text.count(old) >= 1, f"{old!r} not in the message"
    return text.replace(old, new, 1)


def drop(text: str, name: str) -> str:
    return "\r".join(s for s in text.split("\r") if not s.startswith(name + "|"))


def segment(text: str, name: str, index: int = 1) -> str:
    return [s for s in text.split("\r") if s.startswith(name + "|")][index - 1]


def set_field(text: str, name: str, position: int, value: str, index: int = 1) -> str:
    old = segment(text, name, index)
    parts = old.split("|")
    if name == "MSH":  # MSH-1 is the separator itself: MSH-n is the n-1th piece
        position -= 1
    parts += [""] * (position + 1 - len(parts))
    parts[position] = value
    return text.replace(old, "|".join(parts), 1)


# -- every builder message is valid ---------------------------------------------------------------------------------
VALID: list[tuple[str, str, Callable[[], str], str]] = [
    ("lis", "2024.1", lambda: m.lis_oru(20), "ORU^R01"),
    ("lis", "2024.1", lambda: m.lis_oru(3, "P"), "ORU^R01"),
    ("lis", "2024.1", lambda: m.lis_oru(3, "C", critical=True), "ORU^R01"),
    ("lis", "2024.1", lambda: m.lis_oml("NW"), "OML^O21"),
    ("lis", "2024.1", lambda: m.lis_oml("CA"), "OML^O21"),
    ("lis", "2024.1", lambda: m.lis_orl(), "ORL^O22"),
    ("lis", "2024.1", lambda: m.lis_adt("A01"), "ADT^A01"),
    ("lis", "2024.1", lambda: m.lis_adt("A04"), "ADT^A04"),
    ("lis", "2024.1", lambda: m.lis_adt("A08"), "ADT^A08"),
    ("lis", "2024.1", lambda: m.ack(), "ACK"),
    ("lis", "2023.1", lambda: m.lis24_orm("NW"), "ORM^O01"),
    ("lis", "2023.1", lambda: m.lis24_orm("CA", charset="UNICODE UTF-8"), "ORM^O01"),
    ("lis", "2023.1", lambda: m.lis24_oru(5, "P"), "ORU^R01"),
    ("lis", "2023.1", lambda: m.ack(version="2.4", trigger="O01"), "ACK"),
    ("pacs", "2024.1", lambda: m.pacs_orm("NW"), "ORM^O01"),
    ("pacs", "2024.1", lambda: m.pacs_orm("CA"), "ORM^O01"),
    ("pacs", "2024.1", lambda: m.pacs_omi("NW"), "OMI^O23"),
    ("pacs", "2024.1", lambda: m.pacs_omi("CA"), "OMI^O23"),
    ("pacs", "2024.1", lambda: m.pacs_omg("SC"), "OMG^O19"),
    ("pacs", "2024.1", lambda: m.pacs_omg("CM"), "OMG^O19"),
    ("pacs", "2024.1", lambda: m.pacs_oru("P"), "ORU^R01"),
    ("pacs", "2024.1", lambda: m.pacs_oru("F"), "ORU^R01"),
    ("pacs", "2024.1", lambda: m.pacs_oru("F", version="2.4"), "ORU^R01"),
    ("pacs", "2024.1", lambda: m.ack(version="2.4", sender="PACS^RIS", trigger="O01"), "ACK"),
]


@pytest.mark.parametrize(("interface", "version", "build", "key"), VALID,
                         ids=[f"{i}-{v}-{k}-{n}" for n, (i, v, _, k) in enumerate(VALID)])
def test_builder_messages_are_valid(store: ContractStore, interface: str, version: str,
                                    build: Callable[[], str], key: str) -> None:
    validator = HL7Validator(store.load(interface, version))
    text = build()
    charset = "gb18030" if "GB 18030" in text.split("\r")[0] else "utf-8"
    checked = validator.check(text.encode(charset))

    assert checked.operation == key
    assert [str(f) for f in checked.findings] == []


# -- structure --------------------------------------------------------------------------------------------------------
def test_required_segment_missing(lis: HL7Validator) -> None:
    assert check(lis, drop(m.lis_oru(), "PID")) == [("error", "PID", "segment_usage")]  # ERR 100
    assert "required segment PID is missing in PATIENT" in findings(lis, drop(m.lis_oru(), "PID"))[0].message


def test_required_group_missing(lis: HL7Validator) -> None:
    assert check(lis, drop(m.lis_oml(), "SPM")) == [("error", "SPM", "segment_usage")]  # at its leading segment


def test_leading_segment_of_a_group_missing_does_not_cascade(lis: HL7Validator) -> None:
    assert check(lis, drop(m.lis_oml(), "ORC")) == [("error", "ORC", "segment_usage")]


def test_segment_over_its_cardinality(lis: HL7Validator) -> None:
    text = m.lis_adt() + m.pv1().replace("V20240105001", "V2") + "\r"

    assert check(lis, text) == [("error", "PV1[2]", "segment_cardinality")]


def test_segment_out_of_order(lis: HL7Validator) -> None:
    segs = m.lis_oru().split("\r")
    segs.insert(5, segs.pop(2))  # PV1 after OBR

    assert check(lis, "\r".join(segs)) == [("error", "PV1", "structure")]


def test_unknown_and_z_segments_follow_the_contract_policy(lis: HL7Validator) -> None:
    text = edit(m.lis_oru(), "\rPV1|", "\rZPI|1|VIP\rXYZ|1\rPV1|")

    assert check(lis, text) == [("info", "ZPI", "structure"), ("error", "XYZ", "structure")]


def copy_contract(tmp_path: Path, interface: str, version: str) -> Path:
    folder = tmp_path / interface / version
    shutil.copytree(CONTRACTS / interface / version, folder)
    return folder


def enhanced_lis(tmp_path: Path, accept: str, application: str) -> Contract:
    """lis 2024.1 declaring enhanced acknowledgement mode, senders expected to put `accept`/`application` in
    MSH-15/16."""
    folder = copy_contract(tmp_path, "lis", "2024.1")
    path = folder / "contract.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("    mode: original ", f"    mode: enhanced\n    accept_ack: {accept}\n"
                                                          f"    application_ack: {application}\n#"), encoding="utf-8")
    return load_contract(folder)


def test_x_segment_present(tmp_path: Path) -> None:
    folder = copy_contract(tmp_path, "pacs", "2024.1")
    profile = folder / "profiles" / "ORM_O01.yaml"
    profile.write_text(profile.read_text(encoding="utf-8").replace("- ZDS O 0..1", "- ZDS X 0..0"), encoding="utf-8")
    validator = HL7Validator(load_contract(folder))

    assert check(validator, m.pacs_orm()) == [("error", "ZDS", "not_supported")]


# -- fields, components, repetitions --------------------------------------------------------------------------------
def test_required_field_missing(lis: HL7Validator) -> None:
    text = set_field(m.lis_oru(), "OBX", 11, "", index=2)

    assert check(lis, text) == [("error", "OBX[2]-11", "usage")]


def test_required_component_missing_in_a_repetition(lis: HL7Validator) -> None:
    text = edit(m.lis_oru(), "0001234567^^^HOSP^MR", "0001234567^^^^MR")

    assert check(lis, text) == [("error", "PID-3(1).4", "usage")]


def test_required_component_missing_in_a_single_value(lis: HL7Validator) -> None:
    text = set_field(m.lis_oml(), "ORC", 2, "^HIS")

    assert check(lis, text) == [("error", "ORC-2.1", "usage")]


def test_re_field_empty_is_a_warning(lis: HL7Validator) -> None:
    text = set_field(m.lis_oru(), "OBX", 14, "")

    assert check(lis, text) == [("warning", "OBX[1]-14", "usage")]


def test_x_field_valued(lis: HL7Validator) -> None:
    text = set_field(m.lis_oru(), "OBR", 5, "S")

    assert check(lis, text) == [("error", "OBR-5", "not_supported")]  # ERR 207, not 101 "required field missing"


def test_field_repetitions_over_the_maximum(lis: HL7Validator) -> None:
    text = edit(m.lis_oru(), "|UNICODE UTF-8", "|UNICODE UTF-8~UNICODE UTF-8")

    assert check(lis, text) == [("error", "MSH-18", "cardinality")]


def test_extra_components(lis: HL7Validator) -> None:
    text = set_field(m.lis_oru(), "OBX", 6, "a^b^c^d^e^f^g")

    assert check(lis, text) == [("error", "OBX[1]-6.7", "components")]  # at the first extra component


def test_a_component_separator_in_a_primitive_field_is_an_extra_component(lis: HL7Validator) -> None:
    text = set_field(m.lis_oru(), "OBX", 7, "3.5^9.5")

    assert check(lis, text) == [("error", "OBX[1]-7.2", "components")]


def test_a_trailing_component_separator_on_a_coded_value_is_one_warning(lis: HL7Validator) -> None:
    """`F^` in OBX-11 is the code F with an empty extra component: not also a code-table miss."""
    found = findings(lis, set_field(m.lis_oru(1), "OBX", 11, "F^"))

    assert [(f.severity.value, f.location, f.rule) for f in found] == [("warning", "OBX-11.2", "components")]
    assert "a ID has no components" in found[0].message
    assert check(lis, set_field(m.lis_oru(1), "OBX", 11, "X^")) == [("warning", "OBX-11.2", "components"),
                                                                   ("error", "OBX-11", "value_set")]


def test_a_subcomponent_separator_in_a_primitive_field_is_unescaped(lis: HL7Validator) -> None:
    assert check(lis, set_field(m.lis_oru(1), "OBX", 7, "3.5&9.5")) == [("error", "OBX-7", "escape")]


@pytest.mark.parametrize("spaces", [" ", "   ", "\u3000"])
def test_a_value_of_spaces_is_not_valued(lis: HL7Validator, spaces: str) -> None:
    required = set_field(m.lis_oru(1), "OBX", 11, spaces)
    component = edit(m.lis_oru(1), "HIS20240105001|LIS20240105001|CBC^", f"HIS20240105001|LIS20240105001|{spaces}^")
    not_supported = set_field(m.lis_oru(1), "OBR", 5, spaces)

    assert check(lis, required) == [("error", "OBX-11", "usage")]
    assert check(lis, component) == [("error", "OBR-4.1", "usage")]
    assert check(lis, not_supported) == []  # an X field holding spaces is not valued either


def test_escape_sequences(lis: HL7Validator) -> None:
    lone = set_field(m.lis_oru(1), "OBX", 7, "C:\\temp")
    unknown = set_field(m.lis_oru(1), "OBX", 7, "3.5\\Q\\9.5")
    good = set_field(m.lis_oru(1), "OBX", 7, "3.5\\S\\9.5")

    assert check(lis, lone) == [("error", "OBX-7", "escape")]
    assert check(lis, unknown) == [("warning", "OBX-7", "escape")]
    assert check(lis, good) == []


# -- length ----------------------------------------------------------------------------------------------------------
def test_length_over_the_maximum_is_a_warning_by_default(lis: HL7Validator) -> None:
    text = set_field(m.lis_oru(), "OBX", 7, "x" * 61)

    assert check(lis, text) == [("warning", "OBX[1]-7", "length")]
    assert findings(lis, text)[0].message == "References range is 61 characters long; the maximum is 60"


def test_length_counts_characters_after_unescaping(lis: HL7Validator) -> None:
    text = set_field(m.lis_oru(), "OBX", 7, "x" * 58 + "\\S\\y")

    assert check(lis, text) == []


def test_length_severity_is_a_contract_setting(tmp_path: Path) -> None:
    folder = copy_contract(tmp_path, "lis", "2024.1")
    contract_file = folder / "contract.yaml"
    contract_file.write_text(contract_file.read_text(encoding="utf-8").replace("  length: warning", "  length: error"),
                             encoding="utf-8")
    validator = HL7Validator(load_contract(folder))

    assert check(validator, set_field(m.lis_oru(), "OBX", 7, "x" * 61)) == [("error", "OBX[1]-7", "length")]


# -- data type formats -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "position", "value", "location"), [
    ("OBX", 1, "x", "OBX[1]-1"),                    # SI
    ("OBX", 1, "-1", "OBX[1]-1"),                   # SI: not negative
    ("PID", 7, "1990-03-07", "PID-7"),              # TS: its DTM
    ("PID", 7, "19900230", "PID-7"),                # no 30 February
    ("MSH", 7, "202401051015xx", "MSH-7"),
    ("OBR", 22, "20240105251500", "OBR-22"),        # hour 25
    ("OBX", 14, "20240105090000+08", "OBX[1]-14"),  # zone needs 4 digits
])
def test_format_errors(lis: HL7Validator, name: str, position: int, value: str, location: str) -> None:
    text = set_field(m.lis_oru(), name, position, value)

    assert check(lis, text) == [("error", location, "format")]


@pytest.mark.parametrize(("name", "position", "value"), [
    ("PID", 7, "19900307^D"),             # TS with its degree of precision
    ("PID", 7, "1990"),                   # year alone
    ("OBX", 14, "20240105090000.1234+0800"),
    ("PID", 7, "20000229"),               # leap day
])
def test_format_accepts(lis: HL7Validator, name: str, position: int, value: str) -> None:
    assert check(lis, set_field(m.lis_oru(), name, position, value)) == []


def test_obx5_is_checked_by_the_type_in_obx2(lis: HL7Validator) -> None:
    text = m.lis_oru(3)
    not_numeric = set_field(text, "OBX", 5, "abc", index=2)
    structured = set_field(set_field(text, "OBX", 2, "SN", index=2), "OBX", 5, "<^5.5", index=2)
    bad_structured = set_field(set_field(text, "OBX", 2, "SN", index=2), "OBX", 5, "<^abc", index=2)
    coded = set_field(set_field(text, "OBX", 2, "CWE", index=2), "OBX", 5, "POS^阳性^L", index=2)
    text_value = set_field(set_field(text, "OBX", 2, "ST", index=2), "OBX", 5, "未见异常", index=2)

    assert check(lis, not_numeric) == [("error", "OBX[2]-5", "format")]
    assert check(lis, structured) == []
    assert check(lis, bad_structured) == [("error", "OBX[2]-5.2", "format")]
    assert check(lis, coded) == [] and check(lis, text_value) == []


# -- value sets ------------------------------------------------------------------------------------------------------
def test_code_not_in_the_bound_table(lis: HL7Validator) -> None:
    assert check(lis, set_field(m.lis_oru(), "PID", 8, "Q")) == [("error", "PID-8", "value_set")]
    assert check(lis, set_field(m.lis_oru(), "OBX", 8, "XX")) == [("error", "OBX[1]-8", "value_set")]
    assert "'Q' is not one of A, F, M, N, O, U (code table HL70001)" in findings(lis, set_field(m.lis_oru(), "PID", 8, "Q"))[0].message


def test_critical_flags_and_repeating_codes(lis: HL7Validator) -> None:
    assert check(lis, set_field(m.lis_oru(), "OBX", 8, "H~HH")) == []
    assert check(lis, set_field(m.lis_oru(), "OBX", 8, "LL")) == []
    assert check(lis, set_field(m.lis_oru(), "OBX", 8, "H~ZZ")) == [("error", "OBX[1]-8(2)", "value_set")]


def test_narrowed_value_set_between_versions(lis: HL7Validator, lis23: HL7Validator) -> None:
    """2024.1 narrowed OBX-11 to P, F, C; 2023.1 takes all of Table 0085."""
    assert check(lis, set_field(m.lis_oru(), "OBX", 11, "X")) == [("error", "OBX[1]-11", "value_set")]
    assert "'X' is not one of C, F, P (code table HL70085)" in findings(lis, set_field(m.lis_oru(), "OBX", 11, "X"))[0].message
    assert check(lis23, set_field(m.lis24_oru(), "OBX", 11, "X")) == []


def test_order_control_is_narrowed_per_message(lis: HL7Validator) -> None:
    assert check(lis, m.lis_oml("SC")) == [("error", "ORC-1", "value_set")]
    assert check(lis, m.lis_orl(order_control="NW")) == [("error", "ORC-1", "value_set")]


def test_extensible_binding_is_a_warning(lis: HL7Validator) -> None:
    text = edit(m.lis_oml(), "BLD^全血", "XYZ^其他")

    assert check(lis, text) == [("warning", "SPM-4.1", "value_set")]


def test_named_format_from_the_contract(pacs: HL7Validator) -> None:
    text = edit(m.pacs_omi(), m.STUDY_UID, "1.2.03.4")

    assert check(pacs, text) == [("error", "IPC-3.1", "format")]
    assert "does not match format dicom_uid" in findings(pacs, text)[0].message


# -- message level: routing, version, direction, acknowledgement mode --------------------------------------------------
def test_unknown_message_type_and_event(lis: HL7Validator) -> None:
    assert check(lis, m.lis24_orm(charset="UNICODE UTF-8")) == [("error", "MSH-9.1", "message_type")]
    assert check(lis, edit(m.lis_oru(), "ORU^R01^ORU_R01", "ORU^R30^ORU_R30")) == [("error", "MSH-9.2", "event")]
    assert lis.check(m.lis24_orm(charset="UNICODE UTF-8").encode()).operation is None


def test_message_structure_must_match_the_profile(lis: HL7Validator) -> None:
    text = edit(m.lis_oru(), "ORU^R01^ORU_R01", "ORU^R01^OML_O21")

    assert check(lis, text) == [("error", "MSH-9.3", "message_type")]


def test_version_not_accepted(lis: HL7Validator, pacs: HL7Validator) -> None:
    assert check(lis, edit(m.lis_oru(), "|P|2.5.1|", "|P|2.4|")) == [("error", "MSH-12", "version")]
    assert check(pacs, edit(m.pacs_orm(), "|P|2.4|", "|P|2.5.1|")) == [("error", "MSH-12", "version")]


def test_direction(lis: HL7Validator) -> None:
    assert check(lis, m.lis_oru(), direction="to_hospital") == []
    assert check(lis, m.lis_oru(), direction="from_hospital") == [("error", "MSH-9.1", "message_type")]  # ERR 200
    assert check(lis, m.ack(), direction="from_hospital") == []


def test_acknowledgement_mode(lis: HL7Validator) -> None:
    enhanced = edit(m.lis_oru(), "|||||CHN|", "|||AL|NE|CHN|")
    commit = edit(m.ack(), "MSA|AA|", "MSA|CA|")

    assert check(lis, enhanced) == [("warning", "MSH-15", "ack_mode")]
    assert check(lis, commit) == [("error", "MSA-1", "value_set")]
    # a value outside Table 0155 is one finding (the profile's HL70155 binding says the same and is not repeated)
    assert check(lis, edit(m.lis_oru(), "|||||CHN|", "|||XX||CHN|")) == [("error", "MSH-15", "value_set"),
                                                                        ("warning", "MSH-15", "ack_mode")]


def test_enhanced_mode_contract(tmp_path: Path) -> None:
    validator = HL7Validator(enhanced_lis(tmp_path, "AL", "NE"))

    assert check(validator, m.lis_oru()) == [("error", "MSH-15", "usage"), ("error", "MSH-16", "usage")]  # ERR 101
    assert check(validator, edit(m.lis_oru(), "|||||CHN|", "|||AL|NE|CHN|")) == []
    assert check(validator, edit(m.lis_oru(), "|||||CHN|", "|||AL|AL|CHN|")) == [("warning", "MSH-16", "ack_mode")]
    assert check(validator, edit(m.ack(), "MSA|AA|", "MSA|CA|")) == []


def test_garbage_is_one_parse_error(lis: HL7Validator) -> None:
    checked = lis.check(b"\x00\x01 not hl7 at all")

    assert [(f.severity.value, f.rule) for f in checked.findings] == [("error", "parse")]
    assert checked.operation is None and checked.message.segments == []


def test_codes_per_table_0357() -> None:
    def code(rule: str, version: tuple[int, ...] = (2, 5, 1)) -> str:
        return error_code(Finding(Severity.ERROR, "PID-3", "x", rule), version)

    assert [code(r) for r in ("usage", "segment_usage", "not_supported", "extra_fields", "segment_terminator")] == [
        "101", "100", "207", "100", "100"]
    assert (code("length"), code("length", (2, 7)), code("length", (2, 8, 2))) == ("102", "104", "104")


def test_error_codes_for_acks() -> None:
    rules = ("structure", "usage", "format", "length", "value_set", "message_type", "event", "processing_id",
             "version", "ack_mode")

    assert [error_code(Finding(Severity.ERROR, "PID-3", "x", rule)) for rule in rules] == [
        "100", "101", "102", "102", "103", "200", "201", "202", "203", "207"]


def test_mutated_messages_give_findings_never_exceptions(lis: HL7Validator, pacs: HL7Validator) -> None:
    """Deleted bytes, inserted delimiters and framing bytes, moved and repeated segments: always findings."""
    import random

    rng = random.Random(3)
    seeds = [m.lis_oru(5), m.lis_oml(), m.lis_orl(), m.lis_adt(), m.ack(), m.pacs_omi(), m.pacs_orm(), m.pacs_oru()]
    alphabet = b"|^~\\&\r\n\x0b\x1cMSHPIDOBXZ0123456789\xe5\xbc\xa0\xff\"#"
    for _ in range(1500):
        raw = bytearray(rng.choice(seeds).encode("utf-8"))
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(len(raw) + 1)
            if rng.random() < 0.45 and raw:
                del raw[at:at + rng.randint(1, 20)]
            elif rng.random() < 0.8:
                raw[at:at] = bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 5)))
            else:
                segs = bytes(raw).split(b"\r")
                if len(segs) > 2:
                    segs.insert(rng.randrange(1, len(segs)), segs[rng.randrange(1, len(segs))])
                raw = bytearray(b"\r".join(segs))
        validator = rng.choice([lis, pacs])
        checked = validator.check(bytes(raw), rng.choice([None, "from_hospital", "to_hospital"]))
        assert all(isinstance(f, Finding) for f in checked.findings)
        validator.validate_capture(bytes(raw))


def test_a_value_wrong_in_kind_is_not_also_too_long(lis: HL7Validator) -> None:
    """One defect, one finding: a result status of two letters outside HL70085 is a value-set miss, not also long."""
    assert check(lis, set_field(m.lis_oru(1), "OBX", 11, "XX")) == [("error", "OBX-11", "value_set")]
    assert check(lis, set_field(m.lis_oru(1), "OBX", 8, "H" * 30)) == [("error", "OBX-8", "value_set")]
    assert check(lis, set_field(m.lis_oru(1), "OBX", 11, "FF")) == [("error", "OBX-11", "value_set")]
