"""The insurance mock over a real socket: gateway, signature, validation and the outpatient ledger."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx

from harness.contract.http_json import HttpJsonValidator
from mocks.insurance import InsuranceMock
from mocks.population import Person
from tests.conftest import FEES_TOTAL, Wire, new_msgid


def settle(wire: Wire, person: Person, mdtrt_id: str, msgid: str | None = None, **kwargs: Any) -> dict[str, Any]:
    return wire.ok("2207", wire.settle_input(person, mdtrt_id, FEES_TOTAL, **kwargs), msgid=msgid,
                   insuplc_admdvs=person.insuplc_admdvs)


def visit_with_fees(wire: Wire, person: Person, otp: str = "OTP0001") -> str:
    mdtrt_id = wire.register(person, otp)
    wire.upload(person, mdtrt_id)
    return mdtrt_id


def refusal(reply: dict[str, Any]) -> str:
    assert reply["infcode"] == -1, reply
    assert reply["output"] is None and reply["inf_refmsgid"] is None
    message: str = reply["err_msg"]
    return message


# -- sign-in and the happy path ----------------------------------------------------------------------------------
def test_sign_in_opens_a_session(wire: Wire, mock: InsuranceMock) -> None:
    reply = wire.ok("9001", {"signIn": {"opter_no": "100234", "ip": "10.0.0.10"}})

    assert reply["err_msg"] == "success"
    sign_no = reply["output"]["signinoutb"]["sign_no"]
    assert sign_no.startswith(mock.admdvs) and len(sign_no) <= 30
    assert len(reply["inf_refmsgid"]) == 30 and reply["inf_refmsgid"].isdigit()
    assert len(reply["refmsg_time"]) == 17 and len(reply["respond_time"]) == 17


def test_person_query_by_id_card_and_by_social_security_card(signed_in: Wire, employee: Person) -> None:
    by_id = signed_in.ok("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": employee.certno}})
    assert by_id["output"]["baseinfo"]["psn_no"] == employee.psn_no
    assert by_id["output"]["insuinfo"][0]["balc"] == 1500.0

    by_card = signed_in.ok("1101", {"data": {"mdtrt_cert_type": "03", "mdtrt_cert_no": employee.card_no,
                                             "card_sn": employee.card_sn}})
    assert by_card["output"]["baseinfo"]["certno"] == employee.certno

    wrong_sn = signed_in.call("1101", {"data": {"mdtrt_cert_type": "03", "mdtrt_cert_no": employee.card_no,
                                                "card_sn": "0" * 32}})
    assert "card_sn" in refusal(wrong_sn)


def test_outpatient_ledger_from_sign_in_to_settlement(signed_in: Wire, mock: InsuranceMock, employee: Person) -> None:
    found = signed_in.ok("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": employee.certno}})
    assert found["output"]["insuinfo"][0]["insuplc_admdvs"] == employee.insuplc_admdvs
    mdtrt_id = signed_in.register(employee)
    fees = signed_in.upload(employee, mdtrt_id)["output"]["result"]
    assert [f["feedetl_sn"] for f in fees] == ["F0001", "F0002", "F0003"]
    assert [f["chrgitm_lv"] for f in fees] == ["01", "02", "01"]
    assert fees[1]["preselfpay_amt"] == 3.0, "乙 class: 10 % self-pay first"

    pre = signed_in.ok("2206", signed_in.settle_input(employee, mdtrt_id, FEES_TOTAL), insuplc_admdvs=employee.insuplc_admdvs)
    msgid = new_msgid()
    done = settle(signed_in, employee, mdtrt_id, msgid=msgid)

    info = done["output"]["setlinfo"]
    assert Decimal(str(info["medfee_sumamt"])) == FEES_TOTAL
    assert Decimal(str(info["medfee_sumamt"])) == Decimal(str(info["fund_pay_sumamt"])) + Decimal(str(info["psn_part_amt"]))
    assert Decimal(str(info["psn_part_amt"])) == Decimal(str(info["acct_pay"])) + Decimal(str(info["psn_cash_pay"]))
    assert info["medins_setl_id"] == msgid
    assert info["setl_id"] and info["setl_time"]
    assert pre["output"]["setlinfo"]["setl_id"] is None, "a pre-settlement settles nothing"
    assert pre["output"]["setlinfo"]["fund_pay_sumamt"] == info["fund_pay_sumamt"]
    assert mock.balance(employee.psn_no) == Decimal("1500.00") - Decimal(str(info["acct_pay"]))
    assert Decimal(str(info["balc"])) == mock.balance(employee.psn_no)
    assert [s["status"] for s in mock.settlements(mdtrt_id)] == ["settled"]
    assert [e.operation for e in mock.exchanges()] == ["9001", "1101", "2201", "2204", "2206", "2207"]
    assert all(e.request_valid and e.response_valid for e in mock.exchanges())


def test_pre_settlement_changes_nothing(signed_in: Wire, mock: InsuranceMock, employee: Person) -> None:
    mdtrt_id = visit_with_fees(signed_in, employee)
    for _ in range(2):
        signed_in.ok("2206", signed_in.settle_input(employee, mdtrt_id, FEES_TOTAL), insuplc_admdvs=employee.insuplc_admdvs)
    assert mock.balance(employee.psn_no) == Decimal("1500.00")
    assert mock.settlements(mdtrt_id) == []


def test_settlement_without_the_account(signed_in: Wire, mock: InsuranceMock, employee: Person) -> None:
    mdtrt_id = visit_with_fees(signed_in, employee)
    info = settle(signed_in, employee, mdtrt_id, use_account=False)["output"]["setlinfo"]
    assert info["acct_pay"] == 0.0 and info["psn_cash_pay"] == info["psn_part_amt"]
    assert mock.balance(employee.psn_no) == Decimal("1500.00")


def test_settlement_total_must_match_the_uploaded_fees(signed_in: Wire, employee: Person) -> None:
    mdtrt_id = visit_with_fees(signed_in, employee)
    reply = signed_in.call("2207", signed_in.settle_input(employee, mdtrt_id, FEES_TOTAL + 1),
                           insuplc_admdvs=employee.insuplc_admdvs)
    assert "medfee_sumamt" in refusal(reply)


def test_cancel_settlement_negates_amounts_and_restores_the_balance(signed_in: Wire, mock: InsuranceMock, employee: Person) -> None:
    mdtrt_id = visit_with_fees(signed_in, employee)
    original = settle(signed_in, employee, mdtrt_id)["output"]["setlinfo"]
    assert mock.balance(employee.psn_no) < Decimal("1500.00")

    cancel = signed_in.ok("2208", {"data": {"setl_id": original["setl_id"], "mdtrt_id": mdtrt_id, "psn_no": employee.psn_no}},
                          insuplc_admdvs=employee.insuplc_admdvs)

    info = cancel["output"]["setlinfo"]
    for name in ("medfee_sumamt", "fund_pay_sumamt", "psn_part_amt", "acct_pay", "hifp_pay"):
        assert info[name] == -original[name], name
    assert info["psn_cash_pay"] == -original["psn_cash_pay"]
    assert info["setl_id"] == original["setl_id"]
    assert mock.balance(employee.psn_no) == Decimal("1500.00")
    assert info["balc"] == 1500.0
    assert [s["status"] for s in mock.settlements(mdtrt_id)] == ["refunded"]

    again = signed_in.call("2208", {"data": {"setl_id": original["setl_id"], "mdtrt_id": mdtrt_id, "psn_no": employee.psn_no}},
                           insuplc_admdvs=employee.insuplc_admdvs)
    assert "不能重复撤销" in refusal(again)


def test_after_a_cancel_the_same_fees_can_be_settled_again(signed_in: Wire, mock: InsuranceMock, employee: Person) -> None:
    mdtrt_id = visit_with_fees(signed_in, employee)
    first = settle(signed_in, employee, mdtrt_id)["output"]["setlinfo"]
    signed_in.ok("2208", {"data": {"setl_id": first["setl_id"], "mdtrt_id": mdtrt_id, "psn_no": employee.psn_no}},
                 insuplc_admdvs=employee.insuplc_admdvs)
    second = settle(signed_in, employee, mdtrt_id)["output"]["setlinfo"]
    assert second["setl_id"] != first["setl_id"]
    assert second["acct_pay"] == first["acct_pay"]
    assert sorted(s["status"] for s in mock.settlements(mdtrt_id)) == ["refunded", "settled"]


def test_reversal_by_original_msgid_undoes_a_settlement(signed_in: Wire, mock: InsuranceMock, employee: Person) -> None:
    mdtrt_id = visit_with_fees(signed_in, employee)
    msgid = new_msgid()
    setl_id = settle(signed_in, employee, mdtrt_id, msgid=msgid)["output"]["setlinfo"]["setl_id"]

    reply = signed_in.ok("2601", signed_in.reverse_input(employee, msgid, "2207"), insuplc_admdvs=employee.insuplc_admdvs)

    assert reply["output"] is None
    assert mock.balance(employee.psn_no) == Decimal("1500.00")
    assert [s["status"] for s in mock.settlements(mdtrt_id)] == ["reversed"]
    cancel = signed_in.call("2208", {"data": {"setl_id": setl_id, "mdtrt_id": mdtrt_id, "psn_no": employee.psn_no}},
                            insuplc_admdvs=employee.insuplc_admdvs)
    assert "冲正" in refusal(cancel)
    twice = signed_in.ok("2601", signed_in.reverse_input(employee, msgid, "2207"), insuplc_admdvs=employee.insuplc_admdvs)
    assert "已冲正" in twice["warn_msg"], "a second reversal is harmless and says so"


def test_reversal_refused_after_a_refund(signed_in: Wire, mock: InsuranceMock, employee: Person) -> None:
    mdtrt_id = visit_with_fees(signed_in, employee)
    msgid = new_msgid()
    setl_id = settle(signed_in, employee, mdtrt_id, msgid=msgid)["output"]["setlinfo"]["setl_id"]
    signed_in.ok("2208", {"data": {"setl_id": setl_id, "mdtrt_id": mdtrt_id, "psn_no": employee.psn_no}},
                 insuplc_admdvs=employee.insuplc_admdvs)

    reply = signed_in.call("2601", signed_in.reverse_input(employee, msgid, "2207"), insuplc_admdvs=employee.insuplc_admdvs)

    assert "该结算已退费，不能冲正" in refusal(reply)
    assert mock.balance(employee.psn_no) == Decimal("1500.00"), "the account is refunded once, not twice"


def test_reversal_of_a_message_never_processed(signed_in: Wire, employee: Person) -> None:
    reply = signed_in.call("2601", signed_in.reverse_input(employee, new_msgid(), "2207"), insuplc_admdvs=employee.insuplc_admdvs)
    assert "原交易不存在" in refusal(reply)


def test_reversal_names_the_wrong_transaction(signed_in: Wire, employee: Person) -> None:
    msgid = new_msgid()
    signed_in.ok("2201", signed_in.register_input(employee, "OTP0009"), msgid=msgid, insuplc_admdvs=employee.insuplc_admdvs)
    reply = signed_in.call("2601", signed_in.reverse_input(employee, msgid, "2207"), insuplc_admdvs=employee.insuplc_admdvs)
    assert "原交易编号不符" in refusal(reply)


def test_reversal_of_a_registration_and_of_a_fee_upload(signed_in: Wire, mock: InsuranceMock, employee: Person) -> None:
    mdtrt_id = signed_in.register(employee)
    upload_msgid = new_msgid()
    signed_in.ok("2204", signed_in.fee_input(employee, mdtrt_id), msgid=upload_msgid, insuplc_admdvs=employee.insuplc_admdvs)
    assert len(mock.visit(mdtrt_id)["fees"]) == 3  # type: ignore[index]

    signed_in.ok("2601", signed_in.reverse_input(employee, upload_msgid, "2204"), insuplc_admdvs=employee.insuplc_admdvs)
    assert mock.visit(mdtrt_id)["fees"] == {}  # type: ignore[index]

    register_msgid = new_msgid()
    other = signed_in.ok("2201", signed_in.register_input(employee, "OTP0002"), msgid=register_msgid,
                         insuplc_admdvs=employee.insuplc_admdvs)["output"]["data"]["mdtrt_id"]
    signed_in.ok("2601", signed_in.reverse_input(employee, register_msgid, "2201"), insuplc_admdvs=employee.insuplc_admdvs)
    assert mock.visit(other)["status"] == "reversed"  # type: ignore[index]


def test_a_refused_message_leaves_its_msgid_unprocessed(signed_in: Wire, employee: Person) -> None:
    mdtrt_id = visit_with_fees(signed_in, employee)
    msgid = new_msgid()
    refused = signed_in.call("2207", signed_in.settle_input(employee, mdtrt_id, FEES_TOTAL + 1), msgid=msgid,
                             insuplc_admdvs=employee.insuplc_admdvs)
    refusal(refused)
    reply = signed_in.call("2601", signed_in.reverse_input(employee, msgid, "2207"), insuplc_admdvs=employee.insuplc_admdvs)
    assert "原交易不存在" in refusal(reply)


# -- envelope rules ----------------------------------------------------------------------------------------------
def test_a_repeated_msgid_is_refused(signed_in: Wire, mock: InsuranceMock, employee: Person) -> None:
    msgid = new_msgid()
    signed_in.ok("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": employee.certno}}, msgid=msgid)

    again = signed_in.call("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": employee.certno}}, msgid=msgid)

    assert "报文ID重复" in refusal(again) and msgid in again["err_msg"]


def test_a_repeated_msgid_does_not_erase_the_settlement_it_names(signed_in: Wire, mock: InsuranceMock, employee: Person) -> None:
    """A resent settlement (same msgid) is refused as a duplicate; the original must still be reversible by that msgid."""
    mdtrt_id = visit_with_fees(signed_in, employee)
    msgid = new_msgid()
    settle(signed_in, employee, mdtrt_id, msgid=msgid)
    duplicate = signed_in.call("2207", signed_in.settle_input(employee, mdtrt_id, FEES_TOTAL), msgid=msgid,
                               insuplc_admdvs=employee.insuplc_admdvs)
    assert "报文ID重复" in refusal(duplicate)

    reversal = signed_in.call("2601", signed_in.reverse_input(employee, msgid, "2207"), insuplc_admdvs=employee.insuplc_admdvs)

    assert reversal["infcode"] == 0, reversal["err_msg"]
    assert mock.balance(employee.psn_no) == Decimal("1500.00")


def test_unknown_sign_no_is_refused(wire: Wire, employee: Person) -> None:
    reply = wire.call("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": employee.certno}},
                      sign_no="330100202403010000000001")
    assert "签到流水号无效" in refusal(reply)


def test_signed_out_sign_no_is_refused(signed_in: Wire, employee: Person) -> None:
    signed_in.ok("9002", {"signOut": {"sign_no": signed_in.sign_no, "opter_no": "100234"}})
    reply = signed_in.call("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": employee.certno}})
    assert "签到流水号已签退" in refusal(reply)


def test_invalid_request_is_refused_naming_the_field(signed_in: Wire, mock: InsuranceMock) -> None:
    reply = signed_in.call("1101", {"data": {"mdtrt_cert_type": "02"}})

    message = refusal(reply)
    assert message.startswith("FSI-交易报文不正确：")
    assert "/input/data/mdtrt_cert_no" in message and "required field is missing" in message
    exchange = mock.journal.last()
    assert exchange is not None and not exchange.request_valid
    assert [f.location for f in exchange.request_findings] == ["/input/data/mdtrt_cert_no"]
    assert exchange.response_valid, "the refusal itself conforms to the contract"


def test_invalid_request_counts_the_other_errors(signed_in: Wire) -> None:
    reply = signed_in.call("1101", {"data": {"mdtrt_cert_type": "09"}})
    assert "（另有 1 处）" in refusal(reply)


def test_card_sn_rule_of_2024_1_over_the_wire(signed_in: Wire, employee: Person) -> None:
    reply = signed_in.call("1101", {"data": {"mdtrt_cert_type": "03", "mdtrt_cert_no": employee.card_no}})
    assert "/input/data/card_sn" in refusal(reply)


def test_2023_1_mock_accepts_2207_without_pub_hosp_rfom_flag(mock_2023: InsuranceMock) -> None:
    wire = Wire(mock_2023)
    try:
        wire.sign_in()
        person = mock_2023.person("employee")
        mdtrt_id = visit_with_fees(wire, person)
        reply = wire.call("2207", wire.settle_input(person, mdtrt_id, FEES_TOTAL, pub_hosp_rfom_flag=None),
                          insuplc_admdvs=person.insuplc_admdvs)
        assert reply["infcode"] == 0, reply["err_msg"]
    finally:
        wire.close()


def test_2024_1_mock_refuses_2207_without_pub_hosp_rfom_flag(signed_in: Wire, employee: Person) -> None:
    mdtrt_id = visit_with_fees(signed_in, employee)
    reply = signed_in.call("2207", signed_in.settle_input(employee, mdtrt_id, FEES_TOTAL, pub_hosp_rfom_flag=None),
                           insuplc_admdvs=employee.insuplc_admdvs)
    assert "/input/data/pub_hosp_rfom_flag" in refusal(reply)


def test_duplicate_feedetl_sn_within_one_upload(signed_in: Wire, mock: InsuranceMock, employee: Person) -> None:
    mdtrt_id = signed_in.register(employee)
    data = signed_in.fee_input(employee, mdtrt_id)
    data["feedetail"][2]["feedetl_sn"] = data["feedetail"][0]["feedetl_sn"]

    reply = signed_in.call("2204", data, insuplc_admdvs=employee.insuplc_admdvs)

    assert "费用明细流水号在本次就诊中重复" in refusal(reply) and "feedetail[2]" in reply["err_msg"]


def test_duplicate_feedetl_sn_across_uploads(signed_in: Wire, employee: Person) -> None:
    mdtrt_id = visit_with_fees(signed_in, employee)
    reply = signed_in.call("2204", signed_in.fee_input(employee, mdtrt_id, batch="B002"), insuplc_admdvs=employee.insuplc_admdvs)
    assert "重复" in refusal(reply)


def test_a_refused_fee_upload_leaves_no_fee_behind(signed_in: Wire, mock: InsuranceMock, employee: Person) -> None:
    """2204 is all or nothing: when its last line is refused, its first lines are not kept either."""
    mdtrt_id = signed_in.register(employee)
    data = signed_in.fee_input(employee, mdtrt_id)
    data["feedetail"][2]["med_list_codg"] = "NOT-IN-THE-CATALOGUE"

    assert "医保目录编码" in refusal(signed_in.call("2204", data, insuplc_admdvs=employee.insuplc_admdvs))

    assert mock.visit(mdtrt_id)["fees"] == {}  # type: ignore[index]
    signed_in.upload(employee, mdtrt_id)  # the same lines, now valid, are accepted


def test_fee_line_total_must_be_count_times_price(signed_in: Wire, employee: Person) -> None:
    mdtrt_id = signed_in.register(employee)
    data = signed_in.fee_input(employee, mdtrt_id)
    data["feedetail"][0]["det_item_fee_sumamt"] = 26.0
    assert "不等于数量" in refusal(signed_in.call("2204", data, insuplc_admdvs=employee.insuplc_admdvs))


def test_registration_refusals(signed_in: Wire, mock: InsuranceMock, employee: Person) -> None:
    signed_in.register(employee, "OTP0001")
    again = signed_in.call("2201", signed_in.register_input(employee, "OTP0001"), insuplc_admdvs=employee.insuplc_admdvs)
    assert "已登记" in refusal(again)

    suspended = mock.person("suspended")
    paused = signed_in.call("2201", signed_in.register_input(suspended, "OTP0002"), insuplc_admdvs=suspended.insuplc_admdvs)
    assert "暂停" in refusal(paused)


# -- the gateway in front of the ledger --------------------------------------------------------------------------
def gateway_error(response: httpx.Response, mock: InsuranceMock) -> str:
    body = response.json()
    assert set(body) == {"type", "infcode", "err_msg"}
    assert body["type"] == "error" and body["infcode"] == -1 and body["err_msg"].startswith("FSI-FSI-")
    assert HttpJsonValidator(mock.contract).validate_response(body, None).kind == "gateway_error"
    message: str = body["err_msg"]
    return message


def test_bad_signature_gets_a_gateway_error(wire: Wire, mock: InsuranceMock) -> None:
    body = wire.envelope("9001", {"signIn": {"opter_no": "1", "ip": "10.0.0.1"}})
    headers = wire.headers(secret="not-the-secret")

    response = wire.http.post(wire.path("9001"), content=json.dumps(body).encode(), headers=headers)

    assert response.status_code == 200
    assert "签名校验失败" in gateway_error(response, mock) and "x-tif-signature" in response.json()["err_msg"]
    exchange = mock.journal.last()
    assert exchange is not None and exchange.operation == "9001"
    assert [(f.location, f.rule) for f in exchange.request_findings] == [("x-tif-signature", "signature")]
    assert mock.store.count("sessions") == 0, "nothing behind the gateway ran"


def test_unsigned_request_gets_a_gateway_error(wire: Wire, mock: InsuranceMock) -> None:
    body = wire.envelope("9001", {"signIn": {"opter_no": "1", "ip": "10.0.0.1"}})
    response = wire.http.post(wire.path("9001"), json=body)
    assert "missing header x-tif-paasid" in gateway_error(response, mock)


def test_unknown_path_gets_a_gateway_error(wire: Wire, mock: InsuranceMock) -> None:
    response = wire.http.post("/fsi/api/noSuchService/noSuchMethod", content=b"{}", headers=wire.headers())
    assert "未知交易编号" in gateway_error(response, mock)
    exchange = mock.journal.last()
    assert exchange is not None and exchange.operation is None and exchange.meta["path"] == "/fsi/api/noSuchService/noSuchMethod"


def test_get_is_not_accepted(wire: Wire, mock: InsuranceMock) -> None:
    response = wire.http.get(wire.path("9001"))
    assert response.status_code == 405
    assert "只接受 POST" in gateway_error(response, mock)


def test_body_that_is_not_json_gets_a_gateway_error(wire: Wire, mock: InsuranceMock) -> None:
    response = wire.http.post(wire.path("9001"), content=b'{"infno": "9001",', headers=wire.headers())
    assert "JSON 格式错误" in gateway_error(response, mock)
    response = wire.http.post(wire.path("9001"), content="{}".encode("utf-16"), headers=wire.headers())
    assert "不是 UTF-8" in gateway_error(response, mock)


def test_infno_that_disagrees_with_the_path(signed_in: Wire, mock: InsuranceMock, employee: Person) -> None:
    body = signed_in.envelope("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": employee.certno}})
    response = signed_in.http.post(signed_in.path("2207"), content=json.dumps(body).encode(), headers=signed_in.headers())
    assert "infno '1101' posted to the path of 2207" in refusal(response.json())


def test_the_single_endpoint_routes_by_infno(wire: Wire, mock: InsuranceMock) -> None:
    assert mock.contract.http is not None and mock.contract.http.single_endpoint
    body = wire.envelope("9001", {"signIn": {"opter_no": "1", "ip": "10.0.0.1"}})
    response = wire.http.post(f"/fsi/api/{mock.contract.http.single_endpoint}", content=json.dumps(body).encode(),
                              headers=wire.headers())
    assert response.json()["infcode"] == 0
    assert mock.journal.last().operation == "9001"  # type: ignore[union-attr]


# -- the journal -------------------------------------------------------------------------------------------------
def test_the_journal_records_every_exchange_with_its_findings(signed_in: Wire, mock: InsuranceMock, employee: Person) -> None:
    signed_in.ok("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": employee.certno}})
    signed_in.call("1101", {"data": {"mdtrt_cert_type": "02"}})
    signed_in.http.post("/fsi/api/nowhere", content=b"{}", headers=signed_in.headers())

    entries = mock.exchanges()

    assert [e.operation for e in entries] == ["9001", "1101", "1101", None]
    assert [e.id for e in entries] == sorted(e.id for e in entries)
    assert all(e.status == 200 and e.fault is None and e.direction == "inbound" for e in entries)
    assert all(e.peer.startswith("127.0.0.1:") and e.duration_ms > 0 for e in entries)
    good, bad = entries[1], entries[2]
    assert good.request["input"]["data"]["mdtrt_cert_no"] == employee.certno
    assert json.loads(good.request_raw) == good.request
    assert json.loads(good.response_raw or b"") == good.response and good.response["infcode"] == 0
    assert good.request_findings == [] and good.response_findings == []
    assert [f.location for f in bad.request_findings] == ["/input/data/mdtrt_cert_no"]
    assert mock.exchanges("1101") == [good, bad]
    document = good.to_dict()
    assert document["request_raw"]["text"] == good.request_raw.decode()
    assert document["response"]["infcode"] == 0 and document["operation"] == "1101"
    json.dumps(document)  # JSON-ready


def test_reset_restores_the_seeded_partner(signed_in: Wire, mock: InsuranceMock, employee: Person) -> None:
    mdtrt_id = visit_with_fees(signed_in, employee)
    settle(signed_in, employee, mdtrt_id)
    mock.inject("latency", delay_s=0.0)

    mock.reset()

    assert len(mock.journal) == 0 and mock.faults.armed() == []
    assert mock.balance(employee.psn_no) == Decimal("1500.00")
    assert mock.visit(mdtrt_id) is None and mock.settlements() == []
    refused = signed_in.call("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": employee.certno}})
    assert "签到流水号无效" in refusal(refused), "sessions are gone too"
