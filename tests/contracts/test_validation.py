"""Validation findings of the insurance contracts: severity, JSON pointer and message, per version; rules; captures."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from harness.contract.findings import Finding, Severity, has_errors
from harness.contract.http_json import HttpJsonValidator
from harness.contract.model import Contract, Rule
from harness.contract.rules import check_rules, resolve_pointer
from harness.contract.validate import validate_capture
from tests.conftest import DATA

CAPTURES = DATA / "captures"


def capture(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((CAPTURES / name).read_text(encoding="utf-8"))
    return document


@pytest.fixture(scope="module")
def v2024(contract_2024: Contract) -> HttpJsonValidator:
    return HttpJsonValidator(contract_2024)


@pytest.fixture(scope="module")
def v2023(contract_2023: Contract) -> HttpJsonValidator:
    return HttpJsonValidator(contract_2023)


def errors(findings: list[Finding]) -> list[tuple[str, str]]:
    return [(f.location, f.message) for f in findings if f.severity is Severity.ERROR]


def only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, [str(f) for f in findings]
    return findings[0]


# -- valid messages ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("infno", ["9001", "1101", "2201", "2204", "2206", "2207", "2208"])
def test_captured_requests_of_the_mock_flow_are_valid(v2024: HttpJsonValidator, infno: str) -> None:
    checked = v2024.validate_request(capture(f"{infno}-request.json"))
    assert (checked.kind, checked.operation, checked.findings) == ("request", infno, [])


@pytest.mark.parametrize("infno", ["9001", "1101", "2201", "2204", "2206", "2207", "2208"])
def test_captured_responses_are_valid_for_their_transaction(v2024: HttpJsonValidator, infno: str) -> None:
    request = capture(f"{infno}-request.json")
    checked = v2024.validate_response(capture(f"{infno}-response.json"), infno, request)
    assert (checked.kind, checked.operation, checked.findings) == ("response", infno, [])


# -- schema findings ---------------------------------------------------------------------------------------------
def test_missing_required_field_points_at_the_field(v2024: HttpJsonValidator) -> None:
    body = capture("1101-request.json")
    del body["input"]["data"]["mdtrt_cert_no"]

    finding = only(v2024.validate_request(body).findings)

    assert finding.severity is Severity.ERROR
    assert finding.location == "/input/data/mdtrt_cert_no"
    assert finding.message == "required field is missing"
    assert finding.rule == "required"
    assert str(finding) == "ERROR /input/data/mdtrt_cert_no required field is missing"


def test_missing_envelope_field_points_at_the_envelope(v2024: HttpJsonValidator) -> None:
    body = capture("2201-request.json")
    del body["fixmedins_code"]
    assert errors(v2024.validate_request(body).findings) == [("/fixmedins_code", "required field is missing")]


def test_wrong_code_value_names_the_allowed_codes(v2024: HttpJsonValidator) -> None:
    body = capture("1101-request.json")
    body["input"]["data"]["mdtrt_cert_type"] = "04"

    finding = only(v2024.validate_request(body).findings)

    assert (finding.severity, finding.location, finding.rule) == (Severity.ERROR, "/input/data/mdtrt_cert_type", "enum")
    assert finding.message == "'04' is not one of ['01', '02', '03']"


def test_wrong_code_in_an_array_item_points_at_the_item(v2024: HttpJsonValidator) -> None:
    body = capture("2204-request.json")
    body["input"]["feedetail"][1]["rx_circ_flag"] = "7"

    finding = only(v2024.validate_request(body).findings)

    assert finding.location == "/input/feedetail/1/rx_circ_flag"


def test_msgid_not_in_the_contract_format(v2024: HttpJsonValidator) -> None:
    body = capture("1101-request.json")
    body["msgid"] = "H3301060000120240301"

    finding = only(v2024.validate_request(body).findings)

    assert (finding.severity, finding.location, finding.rule) == (Severity.ERROR, "/msgid", "pattern")
    assert "does not match" in finding.message


def test_msgid_with_an_impossible_timestamp(v2024: HttpJsonValidator) -> None:
    body = capture("1101-request.json")
    body["msgid"] = "H33010600001" + "20241301120000" + "0001"  # month 13

    finding = only(v2024.validate_request(body).findings)

    assert (finding.location, finding.rule) == ("/msgid", "format")
    assert finding.message == "characters 13-26 of 'H33010600001202413011200000001' are not a valid yyyyMMddHHmmss"


def test_inf_time_with_an_impossible_date(v2024: HttpJsonValidator) -> None:
    body = capture("1101-request.json")
    body["inf_time"] = "2024-02-30 10:00:00"

    finding = only(v2024.validate_request(body).findings)

    assert finding.location == "/inf_time"
    assert finding.message == "'2024-02-30 10:00:00' is not a valid date and time"


def test_unknown_transaction(v2024: HttpJsonValidator) -> None:
    body = capture("1101-request.json")
    body["infno"] = "9999"

    checked = v2024.validate_request(body)

    assert checked.operation is None
    assert ("/infno", "unknown transaction '9999' in contract insurance@2024.1") in errors(checked.findings)


def test_infno_posted_to_another_transaction_path(v2024: HttpJsonValidator) -> None:
    checked = v2024.validate_request(capture("1101-request.json"), expected_operation="2207")
    assert errors(checked.findings) == [("/infno", "infno '1101' posted to the path of 2207")]


def test_sign_no_is_required_after_sign_in_but_not_for_it(v2024: HttpJsonValidator) -> None:
    body = capture("1101-request.json")
    body["sign_no"] = ""
    assert errors(v2024.validate_request(body).findings) == [("/sign_no", "required after sign-in (9001)")]

    sign_in = capture("9001-request.json")
    sign_in["sign_no"] = ""
    assert v2024.validate_request(sign_in).findings == []


# -- what changed in 2024.1 --------------------------------------------------------------------------------------
@pytest.mark.parametrize("infno", ["1101", "2201", "2206", "2207"])
def test_card_sn_is_required_with_certificate_03_in_2024_1_only(
        v2024: HttpJsonValidator, v2023: HttpJsonValidator, infno: str) -> None:
    body = capture(f"{infno}-request.json")
    body["input"]["data"]["mdtrt_cert_type"] = "03"
    body["input"]["data"].pop("card_sn", None)

    assert errors(v2024.validate_request(body).findings) == [("/input/data/card_sn", "required field is missing")]
    assert v2023.validate_request(body).findings == []


def test_card_sn_must_not_be_empty_with_certificate_03(v2024: HttpJsonValidator) -> None:
    body = capture("1101-request.json")
    body["input"]["data"].update(mdtrt_cert_type="03", card_sn="")
    assert errors(v2024.validate_request(body).findings) == [("/input/data/card_sn", "'' should be non-empty")]

    body["input"]["data"]["card_sn"] = "0123456789ABCDEF0123456789ABCDEF"
    assert v2024.validate_request(body).findings == []


@pytest.mark.parametrize("cert_type", ["01", "02"])
def test_card_sn_is_not_needed_for_other_certificates(v2024: HttpJsonValidator, cert_type: str) -> None:
    body = capture("1101-request.json")
    body["input"]["data"]["mdtrt_cert_type"] = cert_type
    assert v2024.validate_request(body).findings == []


def test_pub_hosp_rfom_flag_is_required_in_2207_of_2024_1_only(v2024: HttpJsonValidator, v2023: HttpJsonValidator) -> None:
    body = capture("2207-request.json")
    del body["input"]["data"]["pub_hosp_rfom_flag"]

    assert errors(v2024.validate_request(body).findings) == [("/input/data/pub_hosp_rfom_flag", "required field is missing")]
    assert v2023.validate_request(body).findings == []


def test_pub_hosp_rfom_flag_takes_the_flag_codes(v2024: HttpJsonValidator, v2023: HttpJsonValidator) -> None:
    body = capture("2207-request.json")
    body["input"]["data"]["pub_hosp_rfom_flag"] = "Y"
    for validator in (v2024, v2023):
        assert [f.location for f in validator.validate_request(body).findings] == ["/input/data/pub_hosp_rfom_flag"]


# -- cross-field rules -------------------------------------------------------------------------------------------
def test_rule_required_when_present_insuplc_admdvs(v2024: HttpJsonValidator) -> None:
    body = capture("2201-request.json")
    del body["insuplc_admdvs"]

    finding = only(v2024.validate_request(body).findings)

    assert (finding.severity, finding.location, finding.rule) == (Severity.ERROR, "/insuplc_admdvs", "psn-no-needs-insuplc")
    assert finding.message == "insuplc_admdvs is required when the input carries psn_no"


def test_rule_required_when_present_ignores_inputs_without_psn_no(v2024: HttpJsonValidator) -> None:
    body = capture("1101-request.json")  # 1101 carries no psn_no and is not under the rule
    body.pop("insuplc_admdvs", None)
    assert v2024.validate_request(body).findings == []


def test_rule_sum_medfee_sumamt(v2024: HttpJsonValidator) -> None:
    response = capture("2207-response.json")
    response["output"]["setlinfo"]["medfee_sumamt"] = 999.0

    finding = only(v2024.validate_response(response, "2207", capture("2207-request.json")).findings)

    assert (finding.location, finding.rule) == ("/output/setlinfo/medfee_sumamt", "setl-sum")
    assert finding.message == "medfee_sumamt must equal fund_pay_sumamt + psn_part_amt"


def test_rule_sum_accepts_decimal_strings(v2024: HttpJsonValidator) -> None:
    response = capture("2207-response.json")
    info = response["output"]["setlinfo"]
    info.update(medfee_sumamt=f"{info['medfee_sumamt']:.2f}", fund_pay_sumamt=f"{info['fund_pay_sumamt']:.2f}")
    assert v2024.validate_response(response, "2207", capture("2207-request.json")).findings == []


def test_rule_equals_request_medins_setl_id(v2024: HttpJsonValidator) -> None:
    response = capture("2207-response.json")
    request = capture("2207-request.json")
    response["output"]["setlinfo"]["medins_setl_id"] = capture("2206-request.json")["msgid"]

    finding = only(v2024.validate_response(response, "2207", request).findings)

    assert (finding.location, finding.rule) == ("/output/setlinfo/medins_setl_id", "medins-setl-id")
    assert v2024.validate_response(response, "2207").findings == [], "without the request there is nothing to compare"


def test_rule_sign_negative_amounts_on_2208(v2024: HttpJsonValidator) -> None:
    response = capture("2208-response.json")
    response["output"]["setlinfo"]["acct_pay"] = 5.0
    response["output"]["setlinfo"]["psn_cash_pay"] = 0.0  # zero is allowed

    finding = only(v2024.validate_response(response, "2208").findings)

    assert (finding.location, finding.rule) == ("/output/setlinfo/acct_pay", "reversal-negative")


def test_rules_do_not_run_on_refusals(v2024: HttpJsonValidator) -> None:
    refusal = {"infcode": -1, "inf_refmsgid": None, "refmsg_time": "20240301120000000",
               "respond_time": "20240301120000001", "err_msg": "FSI-FMI返回：余额不足", "output": None}
    assert v2024.validate_response(refusal, "2207", capture("2207-request.json")).findings == []


def test_success_without_output_and_write_only_with_output(v2024: HttpJsonValidator) -> None:
    response = capture("2207-response.json")
    response["output"] = None
    assert errors(v2024.validate_response(response, "2207").findings) == [("/output", "2207 answers with an output object")]

    reversal = {**capture("2207-response.json"), "output": {"unexpected": 1}}
    finding = only(v2024.validate_response(reversal, "2601").findings)
    assert (finding.severity, finding.location) == (Severity.WARNING, "/output")


def test_a_failure_without_err_msg_is_a_warning(v2024: HttpJsonValidator) -> None:
    refusal = {"infcode": "-1", "refmsg_time": "20240301120000000", "respond_time": "20240301120000001", "err_msg": ""}
    finding = only(v2024.validate_response(refusal, "1101").findings)
    assert (finding.severity, finding.location) == (Severity.WARNING, "/err_msg")
    assert not has_errors([finding])


def test_response_times_must_be_real_instants(v2024: HttpJsonValidator) -> None:
    response = capture("9001-response.json")
    response["respond_time"] = "20240230120000000"
    assert errors(v2024.validate_response(response, "9001").findings) == [
        ("/respond_time", "'20240230120000000' is not a valid yyyyMMddHHmmssSSS")]


def test_check_rules_directly() -> None:
    rules = [
        Rule("s", "sum", "response", ("X",), {"total": "/t", "parts": ["/a", "/b"]}),
        Rule("p", "sign", "response", ("X",), {"sign": "positive_or_zero", "fields": ["/a"]}),
        Rule("r", "required_when_present", "request", ("X",), {"field": "/need", "when_present": "k"}),
        Rule("e", "equals_request", "response", ("X",), {"field": "/echo", "request": "/id"}),
    ]
    response = {"t": "3.00", "a": -1, "b": "4", "echo": "A"}

    found = check_rules(rules, "response", "X", response, {"id": "B"})

    assert sorted((f.rule, f.location) for f in found) == [("e", "/echo"), ("p", "/a")]
    assert "expected 'B' (request /id), got 'A'" in next(f.message for f in found if f.rule == "e")
    assert check_rules(rules, "response", "Y", response) == [], "rules apply only to their transactions"
    assert check_rules(rules, "request", "X", {"input": {"deep": [{"k": 1}]}})[0].location == "/need"
    assert check_rules(rules, "request", "X", {"input": {"deep": [{"k": 1}]}, "need": "x"}) == []
    # a mistyped amount is the schema's finding, not the sum rule's
    assert check_rules(rules[:1], "response", "X", {"t": "abc", "a": 1, "b": 2}) == []
    assert check_rules(rules[:1], "response", "X", {"t": "3", "a": 1, "b": 2}) == []


def test_resolve_pointer_escapes() -> None:
    document = {"a/b": {"~c": [10, 20]}}
    assert resolve_pointer(document, "/a~1b/~0c/1") == 20
    assert resolve_pointer(document, "") is document
    assert resolve_pointer(document, "/a~1b/~0c/5") is not None  # missing: a sentinel, not an exception
    assert resolve_pointer(document, "/a~1b/~0c/5") is resolve_pointer(document, "/nothing")


# -- captured files of unknown kind ------------------------------------------------------------------------------
def test_capture_of_a_request(contract_2024: Contract) -> None:
    raw = (CAPTURES / "2207-request.json").read_bytes()
    checked = validate_capture(contract_2024, raw)
    assert (checked.kind, checked.operation, checked.findings) == ("request", "2207", [])


def test_capture_of_an_invalid_request(contract_2024: Contract) -> None:
    body = capture("2207-request.json")
    del body["input"]["data"]["mdtrt_id"]
    checked = validate_capture(contract_2024, json.dumps(body, ensure_ascii=False).encode())
    assert errors(checked.findings) == [("/input/data/mdtrt_id", "required field is missing")]


def test_capture_of_a_response_finds_its_transaction(contract_2024: Contract) -> None:
    checked = validate_capture(contract_2024, (CAPTURES / "1101-response.json").read_bytes())
    assert (checked.kind, checked.operation, checked.findings) == ("response", "1101", [])


def test_capture_of_a_response_with_a_broken_output_is_checked_against_its_schema(contract_2024: Contract) -> None:
    body = capture("1101-response.json")
    body["output"]["baseinfo"]["gend"] = "M"
    checked = validate_capture(contract_2024, json.dumps(body, ensure_ascii=False).encode())
    assert checked.operation == "1101"
    assert [f.location for f in checked.findings] == ["/output/baseinfo/gend"]


def test_capture_of_a_response_matching_no_output(contract_2024: Contract) -> None:
    body = {**capture("1101-response.json"), "output": {"nothing": "known"}}
    checked = validate_capture(contract_2024, json.dumps(body).encode())
    finding = only(checked.findings)
    assert (checked.kind, finding.severity, finding.location) == ("response", Severity.WARNING, "/output")


def test_capture_of_a_response_that_names_its_transaction(contract_2024: Contract) -> None:
    """A reply that carries `infno` (some gateways echo it) is a response (it has infcode), checked as that transaction's."""
    body = {"infno": "2208", **capture("2208-response.json")}
    body["output"]["setlinfo"]["acct_pay"] = 5.0  # a cancel must return negative amounts

    checked = validate_capture(contract_2024, json.dumps(body, ensure_ascii=False).encode())

    assert (checked.kind, checked.operation) == ("response", "2208")
    assert [(f.location, f.rule) for f in checked.findings] == [("/output/setlinfo/acct_pay", "reversal-negative")]


def test_capture_of_a_gateway_error(contract_2024: Contract) -> None:
    checked = validate_capture(contract_2024, (CAPTURES / "gateway-error.json").read_bytes())
    assert (checked.kind, checked.findings) == ("gateway_error", [])

    broken = capture("gateway-error.json")
    del broken["err_msg"]
    checked = validate_capture(contract_2024, json.dumps(broken).encode())
    assert (checked.kind, errors(checked.findings)) == ("gateway_error", [("/err_msg", "required field is missing")])


def test_capture_that_is_not_json(contract_2024: Contract) -> None:
    finding = only(validate_capture(contract_2024, b'{"infno": "1101",').findings)
    assert (finding.severity, finding.location, finding.rule) == (Severity.ERROR, "", "json")
    assert finding.message.startswith("invalid JSON at line 1 column 18")


def test_capture_that_is_not_utf8(contract_2024: Contract) -> None:
    raw = json.dumps(capture("1101-request.json"), ensure_ascii=False).encode("gb18030")
    checked = validate_capture(contract_2024, raw)
    finding = only(checked.findings)
    assert checked.kind == "unknown"
    assert finding.message.startswith("not UTF-8 text") and "at byte" in finding.message


def test_capture_that_is_neither_request_nor_response(contract_2024: Contract) -> None:
    finding = only(validate_capture(contract_2024, b"[1, 2, 3]").findings)
    assert finding.message == "neither a request (infno) nor a response (infcode)"


def test_findings_serialise(v2024: HttpJsonValidator) -> None:
    body = copy.deepcopy(capture("1101-request.json"))
    del body["input"]["data"]["mdtrt_cert_type"]
    finding = only(v2024.validate_request(body).findings)
    assert finding.to_dict() == {"severity": "error", "location": "/input/data/mdtrt_cert_type",
                                 "message": "required field is missing", "rule": "required"}
    assert str(Finding(Severity.INFO, "", "note")) == "INFO / note"
