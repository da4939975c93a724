"""The acknowledgement-mode policy: what a message is owed under the receiver's declared mode, and the findings
about the sender's MSH-15/16; and the wrong-direction classification (ERR 200 or 201)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.contract.hl7.ack_mode import ORIGINAL, AckMode, AckPlan, mode_findings, plan, unsent, wanted
from harness.contract.hl7.contract import HL7Validator
from harness.contract.hl7.message import parse
from harness.contract.loader import load_contract
from tests.contracts.hl7 import messages as m
from tests.contracts.hl7.test_validation import copy_contract

ENHANCED = AckMode("enhanced", "AL", "NE")


def asking(accept: str, application: str) -> str:
    return m.lis_adt().replace("|||||CHN|", f"|||{accept}|{application}|CHN|", 1)


@pytest.mark.parametrize(("accept", "application"), [("", ""), ("AL", "AL"), ("NE", "NE"), ("XX", "SU")])
def test_original_mode_owes_one_acknowledgement_whatever_the_sender_asks(accept: str, application: str) -> None:
    assert plan(AckMode(), parse(asking(accept, application))) is ORIGINAL


@pytest.mark.parametrize(("accept", "application", "expected"), [
    ("AL", "NE", AckPlan(True, "AL", "NE")),
    ("ER", "SU", AckPlan(True, "ER", "SU")),
    ("XX", "", AckPlan(True, "AL", "NE")),   # invalid and empty: the contract's declared conditions
    ("", "", ORIGINAL),                      # both empty: HL7's original-mode rules
])
def test_enhanced_mode_follows_valid_conditions_and_the_contract_otherwise(accept: str, application: str,
                                                                         expected: AckPlan) -> None:
    assert plan(ENHANCED, parse(asking(accept, application))) == expected


def test_an_undeclared_condition_defaults_to_always() -> None:
    assert plan(AckMode("enhanced"), parse(asking("NE", "ZZ"))) == AckPlan(True, "NE", "AL")


@pytest.mark.parametrize(("condition", "success", "sent"), [
    ("AL", True, True), ("AL", False, True), ("NE", True, False), ("NE", False, False),
    ("ER", True, False), ("ER", False, True), ("SU", True, True), ("SU", False, False),
])
def test_table_0155(condition: str, success: bool, sent: bool) -> None:
    assert wanted(condition, success) is sent


def test_findings_under_original_mode() -> None:
    assert mode_findings(AckMode(), parse(asking("", ""))) == []
    found = mode_findings(AckMode(), parse(asking("NE", "NE")))
    assert [(f.severity.value, f.location, f.rule) for f in found] == [("warning", "MSH-15", "ack_mode")]
    assert "answered AA/AE/AR whatever MSH-15/16 (NE/NE) ask" in found[0].message
    found = mode_findings(AckMode(), parse(asking("", "Q")))
    assert [(f.severity.value, f.location, f.rule) for f in found] == [("error", "MSH-16", "value_set"),
                                                                     ("warning", "MSH-16", "ack_mode")]


def test_findings_under_enhanced_mode() -> None:
    assert mode_findings(ENHANCED, parse(asking("AL", "NE"))) == []
    found = mode_findings(ENHANCED, parse(asking("", "AL")))
    assert [(f.severity.value, f.location, f.rule) for f in found] == [("error", "MSH-15", "usage"),
                                                                     ("warning", "MSH-16", "ack_mode")]
    assert "answered as AL" in found[0].message
    both = mode_findings(ENHANCED, parse(asking("", "")))
    assert [f.location for f in both] == ["MSH-15", "MSH-16"] and "original mode answers" in both[0].message


def test_an_ack_has_no_mode_findings() -> None:
    ack = m.ack().replace("|||||CHN|", "|||NE|NE|CHN|", 1)
    assert mode_findings(AckMode(), parse(ack)) == []


def test_unsent_outcomes() -> None:
    keeps_back = AckPlan(True, "NE", "NE")
    assert unsent(keeps_back, [], "AA") is None
    assert unsent(keeps_back, [], "CR") is not None
    assert unsent(AckPlan(True, "AL", "SU"), ["CA"], "AE") is not None
    assert unsent(AckPlan(True, "AL", "AL"), ["CA", "AE"], "AE") is None


def test_wrong_direction_is_200_unless_the_type_comes_this_way_with_another_trigger(tmp_path: Path) -> None:
    folder = copy_contract(tmp_path, "lis", "2024.1")
    contract = folder / "contract.yaml"
    # ADT^A31 (update person information) sent by the LIS to the hospital: ADT now travels both ways
    contract.write_text(contract.read_text(encoding="utf-8").replace("\n  OML^O21:", (
        "\n  ADT^A31:\n    name: 人员信息更新\n    direction: to_hospital\n    profile: profiles/ADT_A01.yaml\n"
        "    response: ACK\n  OML^O21:")), encoding="utf-8")
    profile = folder / "profiles" / "ADT_A01.yaml"
    profile.write_text(profile.read_text(encoding="utf-8").replace("ADT^A08]", "ADT^A08, ADT^A31]"), encoding="utf-8")
    validator = HL7Validator(load_contract(folder))

    a31 = validator.direction_findings("ADT^A31", "from_hospital")
    oru = validator.direction_findings("ORU^R01", "from_hospital")

    assert [(f.location, f.rule) for f in a31] == [("MSH-9.2", "event")]  # ERR 201: ADT^A01/A04/A08 come this way
    assert "this way: ADT^A01, ADT^A04, ADT^A08" in a31[0].message
    assert [(f.location, f.rule) for f in oru] == [("MSH-9.1", "message_type")]  # ERR 200
    assert validator.direction_findings("ACK", "from_hospital") == []
