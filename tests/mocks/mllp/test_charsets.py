"""Character sets: each message decoded by its MSH-18 (the configured default when blank), the ACK encoded in the
same charset; text that does not decode as declared is not processed (AE / CE, ERR 102 at MSH-18)."""

from __future__ import annotations

from collections.abc import Callable

from harness.contract.findings import Finding, Severity
from harness.contract.hl7.charsets import CharsetPolicy
from harness.contract.hl7.message import Message
from mocks.transport.mllp import AcceptAll, MllpExchange, Reply
from tests.contracts.hl7 import messages as m
from tests.mocks.mllp.conftest import Served, decoded

BOTH = CharsetPolicy(default="UNICODE UTF-8", accepted=("UNICODE UTF-8", "GB 18030-2000"))
GB_DEFAULT = CharsetPolicy(default="GB 18030-2000", accepted=("UNICODE UTF-8", "GB 18030-2000"))


class Complains(AcceptAll):
    """Answers AE with a Chinese error text, so the ACK carries non-ASCII characters."""

    async def handle(self, message: Message, exchange: MllpExchange) -> Reply:
        return Reply("AE", [Finding(Severity.ERROR, "PID-5", f"患者姓名 {message.get('PID-5')} 与登记不符", "internal")])


def test_gb18030_in_and_the_ack_in_gb18030(serve: Callable[..., Served]) -> None:
    served = serve(Complains(), charset=BOTH)
    peer = served.peer()

    peer.message(m.lis_oru(control="GB1", name="欧阳娜娜", charset="GB 18030-2000"), "gb18030")

    raw = peer.read(1)[0]
    ack = decoded(raw)
    assert ack.get("MSH-18") == "GB 18030-2000" and ack.get("MSA-1") == "AE"
    assert "欧阳娜娜" in ack.get("ERR-8")
    assert "欧阳娜娜".encode("gb18030") in raw
    exchange = served.wait_exchanges(1)[0]
    assert exchange.message is not None and exchange.message.get("PID-5") == "欧阳娜娜"
    assert exchange.request is not None and exchange.request["charset"] == "GB 18030-2000"


def test_utf8_in_and_the_ack_in_utf8(serve: Callable[..., Served]) -> None:
    served = serve(Complains(), charset=BOTH)
    peer = served.peer()

    peer.message(m.lis_oru(control="U1", name="张三"))

    raw = peer.read(1)[0]
    assert "张三".encode() in raw and decoded(raw).get("MSH-18") == "UNICODE UTF-8"


def test_blank_msh18_is_read_with_the_configured_default(serve: Callable[..., Served]) -> None:
    served = serve(charset=GB_DEFAULT)
    peer = served.peer()
    text = m.lis_oru(control="B1", name="李四", charset="")

    peer.message(text, "gb18030")

    ack = peer.ack()
    assert ack.get("MSA-1") == "AA" and ack.get("MSH-18") == ""  # the ACK declares what the message declared
    exchange = served.wait_exchanges(1)[0]
    assert exchange.message is not None and exchange.message.get("PID-5") == "李四"
    assert [(f.severity, f.location) for f in exchange.request_findings] == [(Severity.WARNING, "MSH-18")]


def test_bytes_that_do_not_decode_as_declared_are_not_processed(serve: Callable[..., Served]) -> None:
    served = serve(charset=BOTH)
    peer = served.peer()

    peer.message(m.lis_oru(control="W1", name="王五"), "gb18030")  # says UNICODE UTF-8

    raw = peer.read(1)[0]
    ack = decoded(raw)
    assert (ack.get("MSA-1"), ack.get("MSA-2"), ack.get("ERR-2"), ack.get("ERR-3.1")) == ("AE", "W1", "MSH^1^18^1", "102")
    assert ack.get("MSH-18") == "GB 18030-2000"  # encoded and labelled as the bytes really were
    assert served.handler.handled == 0


def test_an_unknown_charset_name_on_ascii_text_is_reported_not_refused(serve: Callable[..., Served]) -> None:
    served = serve()
    peer = served.peer()

    peer.message(m.lis_oru(control="K1", name="ZHANG^SAN", charset="KLINGON"))

    assert peer.ack().get("MSA-1") == "AA"
    exchange = served.wait_exchanges(1)[0]
    assert any(f.location == "MSH-18" and "Table 0211" in f.message for f in exchange.request_findings)
