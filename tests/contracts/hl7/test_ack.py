"""Acknowledgement correlation: MSA-2 echoes MSH-10, sender and receiver swapped, own MSH-10, same version, codes."""

from __future__ import annotations

from harness.contract.hl7.ack import ack_problems
from harness.contract.hl7.message import parse
from tests.contracts.hl7 import messages as m

ORIGINAL = parse(m.lis_oml(control="HIS0001"))  # HIS/HOSP -> LIS/LAB, v2.5.1, original mode


def problems(text: str, original: str | None = None) -> list[tuple[str, str, str]]:
    found = ack_problems(parse(text), parse(original) if original else ORIGINAL)
    return [(f.severity.value, f.location, f.rule) for f in found]


def test_a_correct_ack() -> None:
    assert problems(m.ack(acked="HIS0001")) == []
    assert problems(m.ack(acked="HIS0001", code="AE")) == []


def test_wrong_msa2_is_an_error() -> None:
    assert problems(m.ack(acked="HIS0002")) == [("error", "MSA-2", "correlation")]


def test_sender_receiver_version_and_control_id() -> None:
    not_swapped = m.ack(acked="HIS0001", sender="HIS^HOSP", receiver="LIS^LAB")
    reused = m.ack(acked="HIS0001", control="HIS0001")
    older = m.ack(acked="HIS0001", version="2.4")

    assert problems(not_swapped) == [("warning", "MSH-3", "correlation")]
    assert problems(reused) == [("warning", "MSH-10", "correlation")]
    assert problems(older) == [("warning", "MSH-12", "correlation")]


def test_codes_follow_the_acknowledgement_mode() -> None:
    enhanced = m.lis_oml(control="HIS0001").replace("|||||CHN|", "|||AL|AL|CHN|")

    assert problems(m.ack(acked="HIS0001", code="CA")) == [("error", "MSA-1", "correlation")]
    assert problems(m.ack(acked="HIS0001", code="CA"), enhanced) == []
    assert problems(m.ack(acked="HIS0001", code="XX"), enhanced) == [("error", "MSA-1", "correlation")]
    assert problems(m.ack(acked="HIS0001", code="CA"), enhanced.replace("|AL|AL|", "|NE|AL|")) == [
        ("warning", "MSA-1", "correlation")]


def test_no_msa() -> None:
    assert problems(m.join(m.msh("ACK", "O21^ACK", "LIS9"))) == [("error", "MSA", "correlation")]


def test_a_length_error_is_104_from_v27_and_102_before() -> None:
    from harness.contract.findings import Finding, Severity
    from harness.contract.hl7.mllp_ack import AckBuilder

    too_long = Finding(Severity.ERROR, "PID-5.1", "Family name is 60 characters long; the maximum is 50", "length")
    codes = {}
    for version in ("2.5.1", "2.7", "2.8"):
        original = parse(m.lis_adt().replace("|P|2.5.1|", f"|P|{version}|"))
        ack = AckBuilder().ack(original, "AE", [too_long])
        codes[version] = (ack.get("ERR-2"), ack.get("ERR-3.1"), ack.get("ERR-3.2"))
    assert codes == {"2.5.1": ("PID^1^5^1^1", "102", "Data type error"),
                     "2.7": ("PID^1^5^1^1", "104", "Value too long"), "2.8": ("PID^1^5^1^1", "104", "Value too long")}


def test_an_ar_to_bytes_that_were_no_hl7_names_its_message_structure() -> None:
    """MSH-9.3 is required from v2.4 on, also when no original tells the trigger event; before 2.4 it is absent."""
    from harness.contract.findings import Finding, Severity
    from harness.contract.hl7.mllp_ack import AckBuilder

    garbage = [Finding(Severity.ERROR, "", "not an HL7 v2 message", "parse")]
    types = {version: AckBuilder(version=version).ack(None, "AR", garbage).get("MSH-9")
             for version in ("2.3.1", "2.4", "2.5.1")}
    assert types == {"2.3.1": "ACK", "2.4": "ACK^^ACK", "2.5.1": "ACK^^ACK"}
