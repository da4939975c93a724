"""Acknowledgement by the receiver's declared mode, over real sockets: original mode answers every message once
whatever MSH-15/16 say; enhanced mode follows them only when declared; acknowledgements are never acknowledged;
a message going the wrong way is rejected, never committed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from harness.contract.findings import Severity
from harness.contract.hl7.ack_mode import AckMode
from harness.contract.model import Contract
from mocks.transport.mllp import ContractHandler
from tests.contracts.hl7 import messages as m
from tests.contracts.hl7.test_validation import enhanced_lis
from tests.mocks.mllp.conftest import Served, decoded
from tests.mocks.mllp.test_batch import batch

BAD_PID = "PID|1||||张三||1990-03-07|Q"
GOOD_PID = "PID|1||0001234567^^^HOSP^MR~110101199003071234^^^CHN^NNCHN||张三||19900307|M"


def asking(text: str, accept: str, application: str) -> str:
    """The message with the sender's MSH-15/16 set."""
    return text.replace("|||||CHN|", f"|||{accept}|{application}|CHN|", 1)


def codes(served: Served, text: str, count: int) -> list[str]:
    """MSA-1 of what comes back for `text` (at most `count` frames), after making sure nothing more follows."""
    peer = served.peer()
    peer.message(text)
    frames = peer.read(count, timeout=1.0) if count else []
    assert peer.read(1, timeout=0.2) == [], "more acknowledgements than expected"
    return [decoded(f).get("MSA-1") for f in frames]


@pytest.fixture
def lis_enhanced(tmp_path: Path) -> Contract:
    """lis 2024.1 declaring enhanced mode (senders put AL in MSH-15 and MSH-16)."""
    return enhanced_lis(tmp_path, "AL", "AL")


# -- original mode: the contract decides, not the sender -----------------------------------------------------------
@pytest.mark.parametrize(("accept", "application"), [("NE", "NE"), ("AL", "NE"), ("ER", "SU"), ("XX", "")])
def test_original_mode_rejection_is_sent_whatever_msh15_16_say(serve: Callable[..., Served], lis_2024: Contract,
                                                               accept: str, application: str) -> None:
    served = serve(ContractHandler(lis_2024))
    text = asking(m.lis_oml(control="O1").replace(GOOD_PID, BAD_PID), accept, application)

    peer = served.peer()
    peer.message(text)
    ack = peer.ack()

    assert (ack.get("MSA-1"), ack.get("MSA-2")) == ("AE", "O1")
    assert ack.get("MSH-15") == ack.get("MSH-16") == ""  # an original-mode ACK
    assert [s.field(3).split("^")[0] for s in ack.all("ERR") if s.field(2).startswith("PID")] == ["101", "102", "103"]
    assert peer.read(1, timeout=0.2) == []
    exchange = served.wait_exchanges(1)[0]
    noted = [(f.severity, f.location, f.rule) for f in exchange.request_findings if f.rule in ("ack_mode", "value_set")
             and f.location.startswith("MSH-1")]
    assert (Severity.WARNING, "MSH-15", "ack_mode") in noted  # the sender's enhanced-mode fields are noted, once
    assert len([f for f in exchange.request_findings if f.rule == "ack_mode"]) == 1
    if accept == "XX":
        assert (Severity.ERROR, "MSH-15", "value_set") in noted


def test_original_mode_unsupported_type_with_ne_ne_gets_ar(serve: Callable[..., Served], lis_2024: Contract) -> None:
    served = serve(ContractHandler(lis_2024))
    text = asking(m.lis_oml(control="O2"), "NE", "NE").replace("OML^O21^OML_O21", "ORM^O01^ORM_O01")

    assert codes(served, text, 1) == ["AR"]


def test_original_mode_valid_message_with_ne_ne_gets_aa(serve: Callable[..., Served], lis_2024: Contract) -> None:
    served = serve(ContractHandler(lis_2024))

    assert codes(served, asking(m.lis_adt(control="O3"), "NE", "NE"), 1) == ["AA"]


def test_original_mode_batch_with_ne_ne_gets_one_ack_per_message(serve: Callable[..., Served],
                                                                 lis_2024: Contract) -> None:
    served = serve(ContractHandler(lis_2024))
    good = asking(m.lis_adt(control="B1"), "NE", "NE")
    bad = asking(m.lis_adt(control="B2"), "NE", "NE").replace(GOOD_PID, BAD_PID)
    peer = served.peer()

    peer.message(batch(good, bad).replace("LIS|LAB|HIS|HOSP", "HIS|HOSP|LIS|LAB"))

    reply = decoded(peer.read(1)[0])
    assert [(s.field(1), s.field(2)) for s in reply.all("MSA")] == [("AA", "B1"), ("AE", "B2")]
    assert reply.get("BTS-1") == "2"


# -- acknowledgements are never acknowledged -----------------------------------------------------------------------
def test_an_incoming_ack_is_journaled_and_never_answered(serve: Callable[..., Served], lis_2024: Contract) -> None:
    served = serve(ContractHandler(lis_2024))
    peer = served.peer()

    peer.message(m.ack(acked="LIS9", sender="HIS^HOSP", receiver="LIS^LAB"))
    peer.message(m.lis_adt(control="A2"))  # the connection goes on

    ack = peer.ack()
    assert (ack.get("MSA-1"), ack.get("MSA-2")) == ("AA", "A2")
    assert peer.read(1, timeout=0.2) == []
    first = served.wait_exchanges(2)[0]
    assert first.operation == "ACK" and first.response_raw is None and not first.ack_payloads
    assert [(f.severity, f.rule) for f in first.request_findings] == [(Severity.WARNING, "ack")]
    assert "never acknowledged" in first.request_findings[0].message


def test_an_ack_of_an_unknown_kind_is_not_answered_either(serve: Callable[..., Served]) -> None:
    """A receiver that takes no ACK at all (it would reject the type) still sends nothing back."""
    from mocks.transport.mllp import AcceptAll

    served = serve(AcceptAll(message_types={"ADT^A01"}))

    assert codes(served, m.ack(acked="X1"), 0) == []
    assert served.handler.handled == 0


def test_a_batch_of_acks_is_not_answered(serve: Callable[..., Served], lis_2024: Contract) -> None:
    served = serve(ContractHandler(lis_2024))
    peer = served.peer()

    peer.message(batch(m.ack(acked="L1"), m.ack(acked="L2", control="LIS0004")))

    assert peer.read(1, timeout=0.5) == []
    exchanges = served.wait_exchanges(3)
    assert [e.operation for e in exchanges] == ["ACK", "ACK", "BATCH"]
    assert exchanges[2].response_raw is None and exchanges[2].request_findings[-1].rule == "ack"


# -- the wrong direction -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("accept", "application"), [("", ""), ("NE", "NE"), ("AL", "NE")])
def test_a_message_going_the_wrong_way_gets_ar_200(serve: Callable[..., Served], lis_2024: Contract,
                                                   accept: str, application: str) -> None:
    served = serve(ContractHandler(lis_2024))  # a LIS receives no results (ORU^R01 goes to the hospital)
    peer = served.peer()

    peer.message(asking(m.lis_oru(control="W1"), accept, application))

    ack = peer.ack()
    assert (ack.get("MSA-1"), ack.get("ERR-2"), ack.get("ERR-3.1")) == ("AR", "MSH^1^9^1^1", "200")
    assert peer.read(1, timeout=0.2) == []


def test_a_hospital_listener_rejects_an_order_sent_to_it(serve: Callable[..., Served], lis_2024: Contract) -> None:
    served = serve(ContractHandler(lis_2024, direction="to_hospital"))  # results come to the hospital, orders do not

    ack = decoded(_one(served, m.lis_oml(control="W2")))

    assert (ack.get("MSA-1"), ack.get("ERR-3.1")) == ("AR", "200")
    assert decoded(_one(served, m.lis_orl(control="W3"))).get("MSA-1") == "AA"


def _one(served: Served, text: str) -> bytes:
    peer = served.peer()
    peer.message(text)
    frames = peer.read(1)
    assert frames, "no acknowledgement"
    return frames[0]


@pytest.mark.parametrize(("accept", "expected"), [("AL", ["CR"]), ("NE", ["AR"]), ("ER", ["CR"])])
def test_enhanced_mode_wrong_direction_is_cr_never_ca(serve: Callable[..., Served], lis_enhanced: Contract,
                                                      accept: str, expected: list[str]) -> None:
    served = serve(ContractHandler(lis_enhanced))

    got = codes(served, asking(m.lis_oru(control="W4"), accept, "AL"), len(expected))

    assert got == expected and "CA" not in got


# -- enhanced mode, declared ---------------------------------------------------------------------------------------
def test_enhanced_contract_follows_table_0155(serve: Callable[..., Served], lis_enhanced: Contract) -> None:
    served = serve(ContractHandler(lis_enhanced))

    assert codes(served, asking(m.lis_adt(control="E1"), "AL", "AL"), 2) == ["CA", "AA"]
    assert codes(served, asking(m.lis_adt(control="E2"), "AL", "NE"), 1) == ["CA"]
    assert codes(served, asking(m.lis_adt(control="E3"), "NE", "ER"), 0) == []


def test_enhanced_contract_journals_an_error_it_does_not_send(serve: Callable[..., Served],
                                                              lis_enhanced: Contract) -> None:
    served = serve(ContractHandler(lis_enhanced))
    text = asking(m.lis_adt(control="E4").replace(GOOD_PID, BAD_PID), "AL", "SU")

    assert codes(served, text, 1) == ["CA"]  # the AE is kept back, as MSH-16 SU asks ...

    exchange = served.wait_exchanges(1)[0]
    unsent = [f for f in exchange.request_findings if f.rule == "ack_mode" and "not sent" in f.message]
    assert [(f.severity, f.location) for f in unsent] == [(Severity.WARNING, "MSH-15")]
    assert "AE was not sent" in unsent[0].message and "not told" in unsent[0].message  # ... and journaled


def test_enhanced_contract_rejection_kept_back_by_ne_ne_is_journaled(serve: Callable[..., Served],
                                                                     lis_enhanced: Contract) -> None:
    served = serve(ContractHandler(lis_enhanced))
    text = asking(m.lis_adt(control="E5"), "NE", "NE").replace("ADT^A01^ADT_A01", "ADT^A99^ADT_A01")

    assert codes(served, text, 0) == []

    exchange = served.wait_exchanges(1)[0]
    assert any(f.rule == "ack_mode" and "CR was not sent" in f.message for f in exchange.request_findings)
    assert any(f.rule == "event" for f in exchange.request_findings)


@pytest.mark.parametrize(("accept", "application", "expected"), [
    ("XX", "YY", ["CA", "AE"]),   # invalid: errors (so AE), answered by the contract's declared AL/AL
    ("", "NE", ["CA"]),            # MSH-15 missing: an error, answered as the declared AL; the AE kept back by NE
    ("", "", ["AE"]),              # both empty: the original-mode rules (HL7), one acknowledgement
])
def test_enhanced_contract_empty_or_invalid_conditions(serve: Callable[..., Served], lis_enhanced: Contract,
                                                      accept: str, application: str, expected: list[str]) -> None:
    served = serve(ContractHandler(lis_enhanced))

    assert codes(served, asking(m.lis_adt(control="E6"), accept, application), len(expected)) == expected

    rules = {(f.location, f.rule) for f in served.wait_exchanges(1)[0].request_findings}
    if accept == "XX":
        assert {("MSH-15", "value_set"), ("MSH-16", "value_set")} <= rules
    else:
        assert ("MSH-15", "usage") in rules


def test_enhanced_contract_batch_gets_one_ack_per_message(serve: Callable[..., Served],
                                                          lis_enhanced: Contract) -> None:
    served = serve(ContractHandler(lis_enhanced))
    good = asking(m.lis_adt(control="B3"), "NE", "NE")
    unknown = asking(m.lis_adt(control="B4"), "NE", "NE").replace("ADT^A01^ADT_A01", "ADT^A99^ADT_A01")
    peer = served.peer()

    peer.message(batch(good, unknown).replace("LIS|LAB|HIS|HOSP", "HIS|HOSP|LIS|LAB"))

    reply = decoded(peer.read(1)[0])
    assert [(s.field(1), s.field(2)) for s in reply.all("MSA")] == [("AA", "B3"), ("CR", "B4")]


def test_a_bare_server_answers_in_original_mode(serve: Callable[..., Served]) -> None:
    """Without a contract the transport declares original mode: enhanced mode is never assumed from the sender."""
    served = serve()

    assert codes(served, asking(m.lis_oru(control="N1"), "AL", "AL"), 1) == ["AA"]
    served_enhanced = serve(ack_mode=AckMode("enhanced"))
    assert codes(served_enhanced, asking(m.lis_oru(control="N2"), "AL", "AL"), 2) == ["CA", "AA"]
