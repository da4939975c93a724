"""hl7apy builds messages (as the connectors and specs will); what it builds must pass our validation, and what
our parser reads must agree with hl7apy's reading of the same text."""

from __future__ import annotations

from typing import Any

import pytest
from hl7apy.core import Message
from hl7apy.parser import parse_message

from harness.contract.hl7.contract import HL7Validator
from harness.contract.hl7.message import parse
from tests.contracts.hl7 import messages as m


def header(message: Message, kind: str, control: str, sender: str = "LIS", receiver: str = "HIS") -> None:
    msh = message.msh
    msh.msh_3, msh.msh_4, msh.msh_5, msh.msh_6 = sender, "LAB" if sender == "LIS" else "RIS", receiver, "HOSP"
    msh.msh_7 = "20240105101500"
    msh.msh_9 = kind
    msh.msh_10 = control
    msh.msh_11 = "P"
    msh.msh_17 = "CHN"
    msh.msh_18 = "UNICODE UTF-8"


def patient(group: Any, name: str = "张三") -> None:
    pid = group.add_segment("PID")
    pid.pid_1 = "1"
    pid.pid_3 = "0001234567^^^HOSP^MR"
    pid.add_field("pid_3").value = "110101199003071234^^^CHN^NNCHN"  # a repetition ("~" in a value is escaped)
    pid.pid_5 = name
    pid.pid_7 = "19900307"
    pid.pid_8 = "M"


def visit(group: Any) -> None:
    pv1 = group.add_segment("PV1")
    pv1.pv1_1 = "1"
    pv1.pv1_2 = "O"
    pv1.pv1_19 = "V20240105001"


def build_oru(obx_count: int = 20, status: str = "F") -> str:
    msg = Message("ORU_R01", version="2.5.1")
    header(msg, "ORU^R01^ORU_R01", "LIS1001")
    result = msg.add_group("ORU_R01_PATIENT_RESULT")
    pat = result.add_group("ORU_R01_PATIENT")
    patient(pat)
    visit(pat.add_group("ORU_R01_VISIT"))
    order = result.add_group("ORU_R01_ORDER_OBSERVATION")
    orc = order.add_segment("ORC")
    orc.orc_1, orc.orc_2, orc.orc_3, orc.orc_5 = "RE", "HIS20240105001", "LIS20240105001", "CM"
    obr = order.add_segment("OBR")
    obr.obr_1, obr.obr_2, obr.obr_3, obr.obr_4 = "1", "HIS20240105001", "LIS20240105001", "CBC^血常规^L"
    obr.obr_7, obr.obr_22, obr.obr_25 = "20240105080000", "20240105101500", status
    for i in range(1, obx_count + 1):
        obx = order.add_group("ORU_R01_OBSERVATION").add_segment("OBX")
        obx.obx_1, obx.obx_2, obx.obx_3 = str(i), "NM", f"WBC{i}^白细胞计数{i}^L"
        obx.obx_5, obx.obx_6, obx.obx_7 = f"{6.5 + i / 10:.1f}", "10*9/L^^UCUM", "3.5-9.5"
        obx.obx_8 = "HH" if i == 2 else "N"
        obx.obx_11, obx.obx_14 = status, "20240105090000"
    return str(msg.to_er7())


def build_oml(order_control: str = "NW") -> str:
    msg = Message("OML_O21", version="2.5.1")
    header(msg, "OML^O21^OML_O21", "HIS1001", sender="HIS", receiver="LIS")
    msg.msh.msh_4, msg.msh.msh_6 = "HOSP", "LAB"
    pat = msg.add_group("OML_O21_PATIENT")
    patient(pat)
    visit(pat.add_group("OML_O21_PATIENT_VISIT"))
    order = msg.add_group("OML_O21_ORDER")
    orc = order.add_segment("ORC")
    orc.orc_1, orc.orc_2, orc.orc_9, orc.orc_12 = order_control, "HIS20240105001", "20240105080000", "D001^李医生"
    request = order.add_group("OML_O21_OBSERVATION_REQUEST")
    obr = request.add_segment("OBR")
    obr.obr_1, obr.obr_2, obr.obr_4, obr.obr_16 = "1", "HIS20240105001", "CBC^血常规^L", "D001^李医生"
    spm = request.add_group("OML_O21_SPECIMEN").add_segment("SPM")
    spm.spm_1, spm.spm_2, spm.spm_4, spm.spm_17 = "1", "S20240105001", "BLD^全血", "20240105075500"
    return str(msg.to_er7())


def build_adt(trigger: str) -> str:
    msg = Message("ADT_A01", version="2.5.1")  # A04 and A08 share the ADT_A01 structure
    header(msg, f"ADT^{trigger}^ADT_A01", f"HIS{trigger}", sender="HIS", receiver="LIS")
    msg.msh.msh_4, msg.msh.msh_6 = "HOSP", "LAB"
    msg.evn.evn_1, msg.evn.evn_2 = trigger, "20240105080000"
    patient(msg)
    visit(msg)
    return str(msg.to_er7())


def build_ack(acked: str, code: str = "AA") -> str:
    msg = Message("ACK", version="2.5.1")
    header(msg, "ACK^R01^ACK", "HIS2001", sender="HIS", receiver="LIS")
    msg.msh.msh_4, msg.msh.msh_6 = "HOSP", "LAB"
    msg.msa.msa_1, msg.msa.msa_2 = code, acked
    return str(msg.to_er7())


def build_pacs_oru(status: str) -> str:
    msg = Message("ORU_R01", version="2.5.1")
    header(msg, "ORU^R01^ORU_R01", f"RIS{status}", sender="PACS", receiver="HIS")
    result = msg.add_group("ORU_R01_PATIENT_RESULT")
    patient(result.add_group("ORU_R01_PATIENT"))
    order = result.add_group("ORU_R01_ORDER_OBSERVATION")
    obr = order.add_segment("OBR")
    obr.obr_1, obr.obr_2, obr.obr_3, obr.obr_4 = "1", "HIS20240105002", "ACC20240105001", "CT001^胸部CT平扫^L"
    obr.obr_7, obr.obr_22, obr.obr_25 = "20240105093000", "20240105110000", status
    for i, (code, text, value) in enumerate([("59776-5", "检查所见", "双肺纹理清晰。"),
                                             ("19005-8", "检查印象", "未见明显异常。")], 1):
        obx = order.add_group("ORU_R01_OBSERVATION").add_segment("OBX")
        obx.obx_1, obx.obx_2, obx.obx_3, obx.obx_5, obx.obx_11 = str(i), "TX", f"{code}^{text}^LN", value, status
    return str(msg.to_er7())


def test_hl7apy_oru_with_20_results_passes(lis: HL7Validator) -> None:
    text = build_oru(20)
    checked = lis.check(text.encode("utf-8"))

    assert checked.operation == "ORU^R01" and [str(f) for f in checked.findings] == []
    assert len(checked.message.all("OBX")) == 20 and checked.message.get("OBX[2]-8") == "HH"


@pytest.mark.parametrize("status", ["P", "F", "C"])
def test_hl7apy_results_preliminary_final_corrected(lis: HL7Validator, status: str) -> None:
    assert lis.check(build_oru(2, status).encode()).findings == []


@pytest.mark.parametrize("order_control", ["NW", "CA"])
def test_hl7apy_orders_pass(lis: HL7Validator, order_control: str) -> None:
    checked = lis.check(build_oml(order_control).encode())

    assert checked.operation == "OML^O21" and [str(f) for f in checked.findings] == []


@pytest.mark.parametrize("trigger", ["A01", "A04", "A08"])
def test_hl7apy_adt_passes(lis: HL7Validator, trigger: str) -> None:
    checked = lis.check(build_adt(trigger).encode())

    assert checked.operation == f"ADT^{trigger}" and [str(f) for f in checked.findings] == []


def test_hl7apy_ack_passes(lis: HL7Validator) -> None:
    assert lis.check(build_ack("LIS1001").encode()).findings == []


@pytest.mark.parametrize("status", ["P", "F"])
def test_hl7apy_pacs_reports_pass(pacs: HL7Validator, status: str) -> None:
    checked = pacs.check(build_pacs_oru(status).encode())

    assert checked.operation == "ORU^R01" and [str(f) for f in checked.findings] == []


def test_a_defect_in_an_hl7apy_message_is_found(lis: HL7Validator) -> None:
    text = build_oru(3).replace("|HH|", "|XX|")

    assert [(f.location, f.rule) for f in lis.check(text.encode()).findings] == [("OBX[2]-8", "value_set")]


def test_hl7apy_validates_what_it_built() -> None:
    parsed = parse_message(build_oru(3))
    parsed.validate()  # raises on the first structural error


@pytest.mark.parametrize("text", [m.lis_oru(20), m.lis_oml(), m.lis_adt("A08"), m.pacs_omi(), m.pacs_orm()],
                         ids=["oru", "oml", "adt", "omi", "orm-zds"])
def test_our_parser_and_hl7apy_agree_on_every_segment_and_field(text: str) -> None:
    """Segment by segment, field by field (messages without escape sequences: hl7apy re-escapes `\\.br\\`)."""
    ours = parse(text)
    theirs = parse_message(text, find_groups=False)

    assert [s.name for s in theirs.children] == ours.names()
    for seg, their_seg in zip(ours.segments, theirs.children, strict=True):
        assert seg.name == their_seg.name
        for field in their_seg.children:
            position = int(field.name.split("_")[1])
            if seg.name == "MSH" and position <= 2:
                continue
            repetitions = [f.to_er7() for f in their_seg.children if f.name == field.name]
            assert seg.field(position).split("~") == repetitions, f"{seg.name}-{position}"
