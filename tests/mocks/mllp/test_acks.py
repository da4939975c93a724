"""Acknowledgements by the rules: correlation, AA/AE/AR with located ERR codes, enhanced mode by MSH-15/16."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from harness.contract.hl7.ack import ack_problems
from harness.contract.hl7.ack_mode import AckMode
from harness.contract.hl7.message import Message, parse
from harness.contract.model import Contract
from mocks.transport.mllp import AcceptAll, ContractHandler, MllpExchange, Reply
from tests.contracts.hl7 import messages as m
from tests.mocks.mllp.conftest import Served, decoded

BAD_PID = "PID|1||||张三||1990-03-07|Q"  # PID-3 missing (101), PID-7 not a date (102), PID-8 not in HL70001 (103)
GOOD_PID = "PID|1||0001234567^^^HOSP^MR~110101199003071234^^^CHN^NNCHN||张三||19900307|M"


def enhanced(text: str, accept: str, application: str) -> str:
    return text.replace("|||||CHN|", f"|||{accept}|{application}|CHN|", 1)


def ack_of(served: Served, text: str) -> Message:
    peer = served.peer()
    peer.message(text)
    return peer.ack()


def test_the_ack_follows_the_correlation_rules(serve: Callable[..., Served]) -> None:
    served = serve()
    original = m.lis_adt(control="HIS0003").replace("|P|2.5.1|", "|T|2.5.1|")
    client = served.client()

    first = client.send(original).message
    second = client.send(m.lis_adt(control="HIS0004")).message

    assert first is not None and second is not None
    assert ack_problems(first, parse(original)) == []
    assert first.get("MSH-3") == "LIS" and first.get("MSH-4") == "LAB"
    assert first.get("MSH-5") == "HIS" and first.get("MSH-6") == "HOSP"
    assert first.get("MSH-9") == "ACK^A01^ACK" and first.get("MSH-11") == "T" and first.get("MSH-12") == "2.5.1"
    assert first.get("MSH-18") == "UNICODE UTF-8"
    assert first.control_id and first.control_id != second.control_id != "HIS0004"
    assert first.get("MSH-15") == first.get("MSH-16") == "" and first.segment("ERR") is None


def test_the_ack_keeps_the_senders_delimiters_and_version(serve: Callable[..., Served]) -> None:
    served = serve()
    odd = m.lis_adt(control="D1").replace("MSH|^~\\&|", "MSH|$~\\&|").replace("ADT^A01^ADT_A01", "ADT$A01$ADT_A01")
    old = m.lis_adt(control="V1").replace("|2.5.1|", "|2.3|").replace("ADT^A01^ADT_A01", "ADT^A01")

    odd_ack = ack_of(served, odd)
    old_ack = ack_of(served, old)

    assert odd_ack.seps.component == "$" and odd_ack.raw("MSH-9") == "ACK$A01$ACK"
    assert old_ack.get("MSH-12") == "2.3" and old_ack.get("MSH-9") == "ACK^A01"  # MSH-9.3 only from v2.4 on


def test_a_valid_message_gets_aa(serve: Callable[..., Served], lis_2024: Contract) -> None:
    served = serve(ContractHandler(lis_2024))

    ack = ack_of(served, m.lis_oml(control="HIS0001"))

    assert ack.get("MSA-1") == "AA" and ack.get("MSA-2") == "HIS0001" and ack.segment("ERR") is None
    exchange = served.wait_exchanges(1)[0]
    assert exchange.operation == "OML^O21" and exchange.request_findings == []
    assert exchange.response is not None and exchange.response["code"] == "AA"


def test_content_errors_get_ae_with_located_err_segments(serve: Callable[..., Served], lis_2024: Contract) -> None:
    served = serve(ContractHandler(lis_2024))

    ack = ack_of(served, m.lis_oml(control="HIS0002").replace(GOOD_PID, BAD_PID))

    assert ack.get("MSA-1") == "AE" and ack.get("MSA-2") == "HIS0002"
    errs = [(seg.field(2), seg.field(3).split("^")[0], seg.field(4)) for seg in ack.all("ERR")]
    assert errs == [("PID^1^3^1", "101", "E"), ("PID^1^7^1", "102", "E"), ("PID^1^8^1", "103", "E")]
    assert ack.get("ERR-3.2") == "Required field missing" and ack.get("ERR-3.3") == "HL70357"
    assert "Patient identifier list" in ack.get("ERR-8")
    assert "Patient identifier list" in ack.get("MSA-3")


@pytest.mark.parametrize(("mutate", "code", "where"), [
    (lambda t: t.replace("OML^O21^OML_O21", "ZZZ^Z01"), "200", "MSH^1^9^1^1"),
    (lambda t: t.replace("OML^O21^OML_O21", "OML^O99^OML_O21"), "201", "MSH^1^9^1^2"),
    (lambda t: t.replace("|HIS0005|", "||"), "101", "MSH^1^10^1"),
    (lambda t: t.replace("|HIS0005|P|", "|HIS0005||"), "101", "MSH^1^11^1"),
], ids=["unknown-type", "unknown-trigger", "empty-MSH-10", "empty-MSH-11"])
def test_unacceptable_messages_get_ar(serve: Callable[..., Served], lis_2024: Contract,
                                      mutate: Callable[[str], str], code: str, where: str) -> None:
    served = serve(ContractHandler(lis_2024))
    text = mutate(m.lis_oml(control="HIS0005"))

    ack = ack_of(served, text)

    assert ack.get("MSA-1") == "AR"
    assert ack.get("MSA-2") == parse(text).control_id
    assert (ack.get("ERR-2"), ack.get("ERR-3.1")) == (where, code)
    assert ack_problems(ack, parse(text)) == []


def test_an_unaccepted_version_gets_ar_203_in_that_versions_err_style(serve: Callable[..., Served],
                                                                      lis_2024: Contract) -> None:
    served = serve(ContractHandler(lis_2024))

    ack = ack_of(served, m.lis_oml(control="HIS0006").replace("|P|2.5.1|", "|P|2.3|"))

    assert (ack.get("MSA-1"), ack.get("MSA-2"), ack.get("MSH-12")) == ("AR", "HIS0006", "2.3")
    assert ack.raw("ERR-1") == "MSH^1^12^203&Unsupported version id&HL70357"


def test_a_message_going_the_wrong_way_is_rejected(serve: Callable[..., Served], lis_2024: Contract) -> None:
    served = serve(ContractHandler(lis_2024, direction="from_hospital"))

    ack = ack_of(served, m.lis_oru(control="LIS0001"))

    assert (ack.get("MSA-1"), ack.get("ERR-3.1")) == ("AR", "200")


def test_v24_errors_use_err_1(serve: Callable[..., Served], lis_2023: Contract) -> None:
    served = serve(ContractHandler(lis_2023))
    text = m.lis24_orm(control="HIS2401").replace("|19900307|M|", "|19900307|Q|")
    peer = served.peer()

    peer.message(text, "gb18030")
    ack = peer.ack()

    assert ack.get("MSA-1") == "AE" and ack.get("MSH-12") == "2.4" and ack.get("MSH-18") == "GB 18030-2000"
    assert ack.raw("ERR-1") == "PID^1^8^103&Table value not found&HL70357"
    assert ack.get("ERR-3") == ""


def test_not_hl7_at_all_gets_ar_100(serve: Callable[..., Served]) -> None:
    served = serve()
    peer = served.peer()

    peer.send(b"\x0bGET / HTTP/1.1\r\nHost: x\r\n\r\n\x1c\r")

    ack = peer.ack()
    assert (ack.get("MSA-1"), ack.get("MSA-2"), ack.get("ERR-3.1")) == ("AR", "", "100")
    assert ack.get("MSH-3") == "HIH" and ack.get("MSH-12") == "2.5.1"


class Failing(AcceptAll):
    async def handle(self, message: Message, exchange: MllpExchange) -> Reply:
        raise RuntimeError("database is down")


def test_a_handler_that_fails_gives_ae_207(serve: Callable[..., Served]) -> None:
    served = serve(Failing())

    ack = ack_of(served, m.lis_oru(control="F1"))

    assert (ack.get("MSA-1"), ack.get("ERR-3.1")) == ("AE", "207")
    assert "database is down" in ack.get("ERR-8")
    assert served.client().send(m.lis_oru(control="F2")).code == "AE"  # the server goes on
    assert len(served.server.duplicates) == 0  # a failed message is not remembered: a retry is processed


class OrderFiller(ContractHandler):
    """Answers OML^O21 with an ORL^O22 whose header it leaves to the transport."""

    async def process(self, message: Message, key: str | None, exchange: MllpExchange, code: str) -> Reply | None:
        if key != "OML^O21":
            return None
        orl = parse(m.lis_orl(control="", acked=""))
        return Reply(code, response=orl)


def test_a_handlers_own_response_gets_its_header_and_msa_filled(serve: Callable[..., Served],
                                                                lis_2024: Contract) -> None:
    served = serve(OrderFiller(lis_2024))

    orl = ack_of(served, m.lis_oml(control="HIS0009"))

    assert orl.message_type == "ORL^O22" and orl.get("MSA-1") == "AA" and orl.get("MSA-2") == "HIS0009"
    assert orl.control_id.startswith("A") and orl.get("PID-5") == "张三"


# -- enhanced mode (a receiver that declares it) -------------------------------------------------------------------
ENHANCED = AckMode("enhanced")


@pytest.mark.parametrize(("accept", "application", "handler_code", "expected"), [
    ("AL", "AL", "AA", ["CA", "AA"]),
    ("AL", "NE", "AA", ["CA"]),
    ("NE", "AL", "AA", ["AA"]),
    ("SU", "SU", "AA", ["CA", "AA"]),
    ("ER", "ER", "AA", []),
    ("AL", "ER", "AE", ["CA", "AE"]),
    ("ER", "SU", "AE", []),
    ("AL", "AL", "AR", ["CA", "AR"]),
    ("NE", "NE", "AA", []),
])
def test_enhanced_mode_acks_follow_msh15_and_msh16(serve: Callable[..., Served], accept: str, application: str,
                                                  handler_code: str, expected: list[str]) -> None:
    served = serve(AcceptAll(code=handler_code), ack_mode=ENHANCED)
    peer = served.peer()
    text = enhanced(m.lis_oru(control="E1"), accept, application)

    peer.message(text)
    acks = [decoded(p) for p in peer.read(len(expected))] if expected else []

    assert [a.get("MSA-1") for a in acks] == expected
    assert peer.read(1, timeout=0.1) == []  # and nothing more
    for ack in acks:
        assert ack.get("MSA-2") == "E1" and ack.get("MSH-15") == "NE" and ack.get("MSH-16") == "NE"
        assert ack_problems(ack, parse(text)) == []
    exchange = served.wait_exchanges(1)[0]
    assert exchange.response_raw is None if not expected else exchange.response_raw
    assert served.handler.handled == 1


@pytest.mark.parametrize(("accept", "expected"), [("AL", ["CR"]), ("ER", ["CR"]), ("SU", ["AR"]), ("NE", ["AR"])])
def test_enhanced_mode_rejection_is_a_cr_or_else_an_application_ar(serve: Callable[..., Served], accept: str,
                                                                   expected: list[str]) -> None:
    """A rejection MSH-15 keeps back still reaches the sender: as the application AR that MSH-16 AL allows."""
    served = serve(AcceptAll(message_types={"ADT^A01"}), ack_mode=ENHANCED)
    peer = served.peer()

    peer.message(enhanced(m.lis_oru(control="E2"), accept, "AL"))

    acks = [decoded(p) for p in peer.read(len(expected))] if expected else []
    assert [a.get("MSA-1") for a in acks] == expected
    assert peer.read(1, timeout=0.1) == []
    assert acks[0].get("ERR-3.1") == "200"
    assert served.handler.handled == 0


def test_enhanced_mode_undecodable_text_is_a_ce(serve: Callable[..., Served]) -> None:
    served = serve(ack_mode=ENHANCED)
    peer = served.peer()
    text = enhanced(m.lis_oru(control="E3"), "AL", "AL")  # declares UNICODE UTF-8 ...

    peer.message(text, "gb18030")  # ... but the bytes are GB 18030

    acks = [decoded(p) for p in peer.read(1)]
    assert [(a.get("MSA-1"), a.get("ERR-2"), a.get("ERR-3.1")) for a in acks] == [("CE", "MSH^1^18^1", "102")]
    assert peer.read(1, timeout=0.1) == []
    assert served.handler.handled == 0


# -- Table 0357 codes and ERR-2 locations ----------------------------------------------------------------------------
@pytest.mark.parametrize(("mutate", "where", "code"), [
    (lambda t: t.replace("CBC^血常规^L|", "CBC^血常规^L|S|"), "OBR^1^5^1", "207"),    # usage X valued: not 101
    (lambda t: t.split("SPM|")[0], "SPM^1", "100"),                                  # a required group missing
    (lambda t: t.replace(GOOD_PID, GOOD_PID.replace("|M", "|M^F")), "PID^1^8^1^2", "102"),  # an extra component
    (lambda t: t.replace(GOOD_PID, GOOD_PID.replace("|M", "| ")), "PID^1^8^1", "101"),     # spaces are no value
], ids=["not-supported", "group-missing", "extra-component", "spaces"])
def test_err_codes_and_locations_follow_hl7(serve: Callable[..., Served], lis_2024: Contract,
                                            mutate: Callable[[str], str], where: str, code: str) -> None:
    served = serve(ContractHandler(lis_2024))

    ack = ack_of(served, mutate(m.lis_oml(control="HIS0010")))

    assert ack.get("MSA-1") == "AE"
    assert [(seg.field(2), seg.field(3).split("^")[0]) for seg in ack.all("ERR")] == [(where, code)]
