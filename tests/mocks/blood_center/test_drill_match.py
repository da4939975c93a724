"""Matching an exchange against a drill goal, without a server: paths through lists, each kind of expectation, the
answer read from the raw SOAP reply (lxml-built answers included), faults; and the CSV cells and trainer texts for
any input (Hypothesis)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mocks.blood_center.centre import CentreError
from mocks.blood_center.drill import Match
from mocks.blood_center.drill_match import answer_fields, field_met, met, values
from mocks.blood_center.drill_runs import csv_cell
from mocks.blood_center.vetting import checked_text
from mocks.transport.journal import Exchange

ORDER = {"order": {"orderNo": "ORD1", "urgency": "EMERGENCY",
                   "item": [{"abo": "O", "rhd": "NEG", "productCode": "E0002"}, {"abo": "A", "rhd": "POS", "productCode": "E0005"}]}}
ISSUED = (b'<?xml version="1.0" encoding="utf-8"?><soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/">'
          b'<soap-env:Body><ns0:DownloadIssuedUnitsResponse xmlns:ns0="urn:hih:blood-center:service"><ns0:ResultCode>0</ns0:ResultCode>'
          b'<ns0:ResultMessage>ok</ns0:ResultMessage><ns0:issue><ns0:issueNo>FX1</ns0:issueNo><ns0:unit><ns0:din>D1</ns0:din></ns0:unit>'
          b'<ns0:unit><ns0:din>D2</ns0:din></ns0:unit></ns0:issue></ns0:DownloadIssuedUnitsResponse></soap-env:Body></soap-env:Envelope>')
FAULT = (b'<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/"><soap-env:Body><soap-env:Fault>'
         b'<faultcode>soap-env:Server.Busy</faultcode><faultstring>busy</faultstring></soap-env:Fault></soap-env:Body></soap-env:Envelope>')


def exchange(operation: str, body: dict[str, Any] | None = None, reply: bytes | None = None, fault: str | None = None) -> Exchange:
    made = Exchange("blood-center", "http", operation, b"", request={"operation": operation, "body": body or {}})
    made.response_raw, made.fault = reply, fault
    return made


def test_paths_go_through_lists() -> None:
    assert values(ORDER, "order.item.abo") == ["O", "A"]
    assert values(ORDER, "order.urgency") == ["EMERGENCY"]
    assert values(ORDER, "order.missing") == [] and values({"din": []}, "din") == []


def test_each_kind_of_expectation() -> None:
    found = values(ORDER, "order.item.abo")
    assert field_met(found, "O", {}) and not field_met(found, "B", {})
    assert field_met(found, ["B", "A"], {})
    assert field_met([], {"empty": True}, {}) and field_met([""], {"empty": True}, {}) and not field_met(found, {"empty": True}, {})
    assert field_met(found, {"empty": False}, {}) and not field_met([], {"empty": False}, {})
    assert field_met(found, {"not": "B"}, {}) and not field_met(found, {"not": "O"}, {})
    assert field_met(["D1", "D2"], {"contains": "$recalled"}, {"recalled": ["D2"]})
    assert not field_met(["D1"], {"contains": "$recalled"}, {"recalled": ["D2"]})
    assert not field_met(["D1"], {"contains": "$recalled"}, {"recalled": []}), "nothing recalled yet meets nothing"
    assert field_met(["400", "2.0"], 2, {}) and not field_met(["x"], 2, {})


def test_the_answer_is_read_from_the_raw_reply() -> None:
    fields = answer_fields(exchange("DownloadIssuedUnits", reply=ISSUED))
    assert fields is not None and values(fields, "issue.unit.din") == ["D1", "D2"]
    assert answer_fields(exchange("QueryNotices", reply=FAULT)) == {"Fault": {"faultcode": "soap-env:Server.Busy", "faultstring": "busy"}}
    assert answer_fields(exchange("QueryNotices", reply=None)) is None
    assert answer_fields(exchange("QueryNotices", reply=b"<html>503</html")) is None


def test_a_goal_is_met_by_operation_request_answer_and_fault() -> None:
    goal = Match("SubmitBloodOrder", {"order.urgency": "EMERGENCY", "order.item.rhd": "NEG"})
    assert met(goal, exchange("SubmitBloodOrder", ORDER), {})
    assert not met(goal, exchange("QueryOrderFeedback", ORDER), {})
    assert not met(Match("SubmitBloodOrder", {"order.urgency": "ROUTINE"}), exchange("SubmitBloodOrder", ORDER), {})
    download = Match("DownloadIssuedUnits", answer={"issue.unit.din": {"empty": False}})
    assert met(download, exchange("DownloadIssuedUnits", reply=ISSUED), {})
    assert not met(download, exchange("DownloadIssuedUnits", reply=FAULT), {})
    outage = Match("*", fault=True)
    assert met(outage, exchange("QueryNotices", fault="reset"), {})
    assert not met(outage, exchange("QueryNotices"), {})
    assert not met(Match("DownloadIssuedUnits", fault=False), exchange("DownloadIssuedUnits", fault="latency"), {})
    outbound = exchange("QueryNotices", fault="reset")
    outbound.direction = "outbound"
    assert not met(outage, outbound, {})


@given(st.text(max_size=30))
def test_a_csv_cell_never_starts_a_formula(text: str) -> None:
    cell = csv_cell(text)
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert cell.removeprefix("'") == text or cell == text


@given(st.text(max_size=60))
def test_a_trainer_text_is_kept_only_when_it_is_short_and_clean(text: str) -> None:
    try:
        kept = checked_text(text, "名称", 40)
    except CentreError as refused:
        assert refused.code == "1001" and "名称" in refused.message
        return
    assert kept == text.strip() and 0 < len(kept) <= 40
    assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F or c in "\u2028\u2029" for c in kept)
