"""Property-based hostile input to the HL7 mocks (LIS, PACS), in-process: the MLLP server reads a connection from an
in-memory stream, so framing, batches, decoding, screening, the partner's rules and the ACK all run as over a socket.
Messages the contracts accept are broken field by field, segment by segment and byte by byte, and framed well,
badly or not at all. Whatever comes: every exchange is journaled without an internal error, every frame read is
acknowledged with an ACK that parses, and a valid message is accepted (AA) afterwards."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.contract.hl7.message import parse
from harness.contract.hl7.mllp import SB, Deframer, frame
from harness.contract.loader import ContractStore
from mocks.hl7_partner import Hl7PartnerMock
from mocks.registry import create_mock
from tests.conftest import CONTRACTS
from tests.contracts.hl7 import messages as m
from tests.mocks.hostile import broken_hl7
from tests.strategies import examples

SETTINGS = settings(max_examples=examples(80), deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                                           HealthCheck.function_scoped_fixture])
VALID = {"lis": [m.lis_oml(), m.lis_adt()], "pacs": [m.pacs_orm(), m.pacs_omi()]}
_fresh = itertools.count(1)


def fresh(text: str) -> str:
    """`text` with a control ID and placer order numbers never used before (a resent message is a duplicate)."""
    n = next(_fresh)
    segments = text.split("\r")
    head = segments[0].split("|")
    head[9] = f"HOST{n:06d}"
    segments[0] = "|".join(head)
    return re.sub(r"HIS20240105\d{3}", f"HIS{n:011d}", "\r".join(segments))


class MemoryTransport:
    def __init__(self) -> None:
        self.closed = False

    def get_write_buffer_size(self) -> int:
        return 0

    def abort(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


class MemoryWriter:
    """What the MLLP server writes to, kept in memory: the shape of asyncio.StreamWriter it uses."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.transport = MemoryTransport()

    def write(self, data: bytes) -> None:
        self.data += data

    async def drain(self) -> None:
        return None

    def is_closing(self) -> bool:
        return self.transport.closed

    def close(self) -> None:
        self.transport.closed = True

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        return None

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 40000) if name == "peername" else default

    async def wait_closed(self) -> None:
        return None


class InProcess:
    """A mock LIS or PACS, its MLLP server fed connections from memory on one event loop."""

    def __init__(self, mock: Hl7PartnerMock) -> None:
        self.mock = mock
        self.loop = asyncio.new_event_loop()

    def converse(self, data: bytes) -> list[bytes]:
        """One connection carrying `data`, then closed by the peer: the frames the mock wrote back."""

        async def run() -> bytes:
            reader = asyncio.StreamReader()
            reader.feed_data(data)
            reader.feed_eof()
            writer = MemoryWriter()
            await self.mock.server(reader, writer)  # type: ignore[arg-type]
            return bytes(writer.data)

        written = self.loop.run_until_complete(run())
        deframer = Deframer()
        return [f.payload for f in deframer.feed(written)]

    def close(self) -> None:
        self.loop.close()


@pytest.fixture(scope="module", params=["lis", "pacs"])
def partner(request: pytest.FixtureRequest) -> Iterator[InProcess]:
    mock = create_mock(ContractStore(CONTRACTS).load(request.param))
    assert isinstance(mock, Hl7PartnerMock)
    driver = InProcess(mock)
    yield driver
    driver.close()


def no_internal_errors(partner: InProcess) -> None:
    for exchange in partner.mock.journal.entries():
        internal = [f for f in exchange.request_findings + exchange.response_findings if f.rule == "internal"]
        assert not internal, [str(f) for f in internal]


def acks_parse(acks: list[bytes]) -> list[str]:
    codes = []
    for raw in acks:
        ack = parse(raw.decode("utf-8", "replace"))
        msa = ack.segment("MSA")
        assert msa is not None, raw[:300]
        codes.append(msa.field(1))
    return codes


def accepted(partner: InProcess, text: str) -> None:
    codes = acks_parse(partner.converse(frame(text.encode("utf-8"))))
    assert codes and codes[-1] in ("AA", "CA"), codes


def test_the_valid_messages_are_accepted(partner: InProcess) -> None:
    for text in VALID[partner.mock.interface]:
        accepted(partner, fresh(text))


@SETTINGS
@given(data=st.data(), framing=st.sampled_from(["one", "pipelined", "garbage-before", "unframed", "nested-start", "no-end"]))
def test_broken_messages_are_acknowledged_within_the_contract(partner: InProcess, data: st.DataObject, framing: str) -> None:
    valid = fresh(data.draw(st.sampled_from(VALID[partner.mock.interface])))
    raw = data.draw(broken_hl7(valid, lambda text: text.encode("utf-8")))
    if framing == "one":
        wire = frame(raw)
    elif framing == "pipelined":
        wire = frame(raw) + frame(valid.encode("utf-8")) + frame(raw)
    elif framing == "garbage-before":
        wire = b"GET / HTTP/1.1\r\n\r\n" + frame(raw)
    elif framing == "unframed":
        wire = raw
    elif framing == "nested-start":
        wire = SB + frame(raw)
    else:
        wire = SB + raw
    before = len(partner.mock.journal)
    acks = partner.converse(wire)
    acks_parse(acks)
    assert len(partner.mock.journal) > before or not wire.strip(), "whatever arrived is journaled"
    no_internal_errors(partner)


def test_the_partner_still_accepts_after_hostile_input(partner: InProcess) -> None:
    for text in VALID[partner.mock.interface]:
        accepted(partner, fresh(text))
