"""What two runs sent, compared: volatile fields left out, partner values and the hospital's own ids named by where
they came from, messages paired per transaction."""

from __future__ import annotations

import json
from typing import Any

from harness.compare.wire import compare_messages, sent_messages
from harness.contract.loader import ContractStore
from harness.contract.model import Contract
from tests.conftest import CONTRACTS


def contract(name: str) -> Contract:
    return ContractStore(CONTRACTS).load(name)


def inbound(number: int, operation: str, request: dict[str, Any], reply: dict[str, Any]) -> dict[str, Any]:
    return {"id": number, "operation": operation, "direction": "inbound",
            "request_raw": {"text": json.dumps(request, ensure_ascii=False)},
            "response_raw": {"text": json.dumps(reply, ensure_ascii=False)}}


def visit(msgid: str, mdtrt_id: str, caty: str = "A03") -> list[dict[str, Any]]:
    """A registration then a reversal of it, as one run's evidence would hold them."""
    return [
        inbound(1, "2201", {"infno": "2201", "msgid": msgid, "inf_time": "2026-01-01 10:00:00",
                            "input": {"data": {"psn_no": "P1", "caty": caty, "begntime": "2026-01-01 10:00:00"}}},
                {"infcode": 0, "output": {"data": {"mdtrt_id": mdtrt_id}}, "respond_time": "20260101100000123"}),
        inbound(2, "2203", {"infno": "2203", "msgid": msgid[:-1] + "9",
                            "input": {"mdtrtinfo": {"mdtrt_id": mdtrt_id, "psn_no": "P1"}}}, {"infcode": 0}),
        inbound(3, "2601", {"infno": "2601", "msgid": msgid[:-1] + "8",
                            "input": {"data": {"omsgid": msgid, "oinfno": "2201"}}}, {"infcode": 0}),
    ]


def test_volatile_fields_and_values_made_afresh_compare_equal() -> None:
    insurance = contract("insurance")
    old = sent_messages(visit("H33010600001202601011000000001", "330100202601011000000000000001"), insurance)
    new = sent_messages(visit("H33010600001202601011005590007", "330100202601011006000000000042"), insurance)

    assert compare_messages(old, new) == []
    assert "/msgid" not in old[0].fields and "/inf_time" not in old[0].fields  # the descriptor's volatile fields
    assert "/input/data/begntime" not in old[0].fields  # the contract's, for 2201
    assert old[1].fields["/input/mdtrtinfo/mdtrt_id"] == "<2201 /output/data/mdtrt_id>"  # the partner gave it
    assert old[2].fields["/input/data/omsgid"] == "<sent 2201 /msgid>"  # the hospital sent it before


def test_a_changed_field_and_a_value_not_taken_from_the_partner_differ() -> None:
    insurance = contract("insurance")
    old = sent_messages(visit("H33010600001202601011000000001", "330100202601011000000000000001"), insurance)
    entries = visit("H33010600001202601011005590007", "330100202601011006000000000042", caty="A03.01")
    entries[1]["request_raw"]["text"] = entries[1]["request_raw"]["text"].replace(
        "330100202601011006000000000042", "330100202601011000000000000001")  # a visit id from nowhere
    new = sent_messages(entries, insurance)

    changes = {(c.transaction, f.path, f.old, f.new) for c in compare_messages(old, new) for f in c.fields}

    assert changes == {("2201", "/input/data/caty", "A03", "A03.01"),
                       ("2203", "/input/mdtrtinfo/mdtrt_id", "<2201 /output/data/mdtrt_id>",
                        "330100202601011000000000000001")}


def test_a_message_sent_by_one_run_only_is_a_difference_of_its_own() -> None:
    insurance = contract("insurance")
    both = visit("H33010600001202601011000000001", "330100202601011000000000000001")
    old = sent_messages(both, insurance)
    new = sent_messages(both[:2], insurance)

    changes = compare_messages(old, new)

    assert [(c.transaction, c.index, c.kind) for c in changes] == [("2601", 1, "only_old")]
    assert [(c.transaction, c.kind) for c in compare_messages(new, old)] == [("2601", "only_new")]


def test_an_hl7_acknowledgement_the_hospital_sent_is_compared_by_what_it_acknowledges() -> None:
    lis = contract("lis")

    def pushed(control: str, ack_control: str, code: str) -> list[dict[str, Any]]:
        oru = f"MSH|^~\\&|LIS|LAB|HIS|HOSP|20260101100000||ORU^R01^ORU_R01|{control}|P|2.5.1\rPID|1||MR1^^^HOSP^MR\r"
        ack = (f"MSH|^~\\&|HIS|HOSP|LIS|LAB|20260101100001||ACK^R01^ACK|{ack_control}|P|2.5.1\r"
               f"MSA|{code}|{control}\r")
        return [{"id": 1, "operation": "ORU^R01", "direction": "outbound", "request_raw": {"text": oru},
                 "response_raw": {"text": ack}}]

    old = sent_messages(pushed("LIS2601011000000001", "H2601011000000001", "AA"), lis)
    same = sent_messages(pushed("LIS2601011005000007", "H2601011005000009", "AA"), lis)
    refused = sent_messages(pushed("LIS2601011005000007", "H2601011005000009", "AE"), lis)

    assert old[0].fields["MSA-2"] == "<ORU^R01 MSH-10>"
    assert compare_messages(old, same) == []
    assert [(f.path, f.old, f.new) for c in compare_messages(old, refused) for f in c.fields] == [("MSA-1", "AA", "AE")]
