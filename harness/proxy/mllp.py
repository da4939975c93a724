"""The MLLP proxy (HL7 v2): each connection to the proxy gets its own connection to the upstream.

Messages are cut from the byte stream (`Deframer`, whatever the read boundaries) and forwarded one MLLP frame each,
payload unchanged; bytes outside frames and broken frames are journaled, not forwarded. A reply from the upstream
is paired with the request it acknowledges (MSA-2, else the oldest waiting) and goes back the same way. Without
`--strict` a message is forwarded first and checked after; with it, a request that breaks the contract is answered
AR by the proxy (ERR segments with the findings) and never forwarded, and a reply that breaks it is replaced by an
AE from the proxy. `--upstream-role hospital` puts the proxy in front of the hospital's own listener (the partner
connects to the proxy): messages are then checked as travelling to the hospital.

Every wait is bounded: connecting to the upstream (`--connect-timeout`), the upstream's reply to a forwarded message
(`--timeout`: then the waiting requests are journaled unanswered and both connections closed), a connection with
nothing to do (`IDLE_TIMEOUT_S`), writing to a peer that does not read. At most `MAX_WAITING` messages may wait for
a reply on one connection. Faults armed over the admin API apply per message as on the mock LIS and PACS:
`latency` (before forwarding), `late_ack`, `no_reply`, `reset`, `error_reply` (AE, or `code`), `malformed`,
`duplicate_ack`, `garbage`, `wrong_ack_id`, `split_frames`; with `phase: before` a replacing fault keeps the message
from the upstream.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import struct
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from harness.contract.codec import Seen, Wire
from harness.contract.codec_hl7 import validator
from harness.contract.findings import Finding, Severity
from harness.contract.hl7.contract import settings
from harness.contract.hl7.message import Message
from harness.contract.hl7.mllp import END, SB, Deframer
from harness.contract.hl7.mllp_ack import AckBuilder, encode
from harness.contract.model import Contract
from harness.proxy.core import Proxy, ProxyOptions, tcp_upstream, unreachable
from harness.proxy.record import Recorder, Side
from mocks.base import Endpoint
from mocks.transport.faults import Fault, wait_at_least
from mocks.transport.journal import MAX_FINDINGS, Exchange
from mocks.transport.runtime import Runtime

IDLE_TIMEOUT_S = 600.0
WRITE_TIMEOUT_S = 30.0
MAX_WAITING = 1000
READ_BYTES = 65536
REPLACING = frozenset({"no_reply", "reset", "error_reply", "malformed"})
GARBAGE = b"HIH proxy garbage before the start block\r\n"


@dataclass
class _Waiting:
    """A message forwarded to the upstream, waiting for its reply."""

    side: Side
    seen: Seen | None
    operation: str | None
    control: str
    started: float
    fault: Fault | None = None


@dataclass(eq=False)
class _Link:
    """One connection to the proxy and its connection to the upstream."""

    number: int
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    peer: str
    up_reader: asyncio.StreamReader | None = None
    up_writer: asyncio.StreamWriter | None = None
    waiting: deque[_Waiting] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when a message starts waiting for the upstream's reply (the reply's deadline starts then)."""
    closed: bool = False


class MllpProxy(Proxy):
    """A proxy for an HL7 v2 interface over MLLP."""

    transport = "mllp"

    def __init__(self, contract: Contract, options: ProxyOptions, recorder: Recorder | None = None) -> None:
        super().__init__(contract, options, recorder)
        self.address = tcp_upstream(options.upstream)
        self.hl7 = settings(contract)
        self.acks = AckBuilder("HIH", "PROXY", self.hl7.versions[-1] if self.hl7.versions else "2.5.1",
                               id_prefix="P")
        self.links: set[_Link] = set()
        self._numbers = itertools.count(1)

    # -- serving ----------------------------------------------------------------------------------------------------
    def start(self, runtime: Runtime, host: str = "127.0.0.1", port: int = 0) -> Endpoint:
        listener = runtime.serve_tcp(self._serve, host, port, limit=2**16)
        stop_listening = listener.stop

        async def stop() -> None:
            for link in list(self.links):
                self._close(link)
            await stop_listening()

        listener.stop = stop
        self._listener = listener
        shown = f"[{host}]" if ":" in host else host
        self.endpoint = Endpoint(self.interface, host, listener.port, f"mllp://{shown}:{listener.port}")
        return self.endpoint

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peername = writer.get_extra_info("peername")
        peer = f"{peername[0]}:{peername[1]}" if isinstance(peername, tuple) else str(peername or "")
        link = _Link(next(self._numbers), reader, writer, peer)
        self.links.add(link)
        try:
            await self._run(link)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._close(link)
            self.links.discard(link)

    async def _run(self, link: _Link) -> None:
        host, port = self.address
        try:
            link.up_reader, link.up_writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, limit=2**16), self.options.connect_timeout_s)
        except (OSError, TimeoutError) as exc:
            self._note(link, b"", unreachable(f"{host}:{port}", exc))
            return
        inbound = asyncio.ensure_future(self._inbound(link))
        outbound = asyncio.ensure_future(self._outbound(link))
        try:
            await asyncio.wait({inbound, outbound}, return_when=asyncio.FIRST_COMPLETED)
            if inbound.done() and not outbound.done() and link.waiting:
                # the sender hung up with replies still owed: let them come (and be journaled), within the timeout
                await asyncio.wait({outbound}, timeout=self.options.timeout_s)
        finally:
            for task in (inbound, outbound):
                task.cancel()
            await asyncio.gather(inbound, outbound, return_exceptions=True)
            for waiting in list(link.waiting):
                self._settle(link, waiting, None, Finding(Severity.ERROR, "", "the connection closed before the "
                                                          "upstream replied", "upstream"))
            link.waiting.clear()

    def _close(self, link: _Link) -> None:
        if link.closed:
            return
        link.closed = True
        for writer in (link.writer, link.up_writer):
            if writer is not None:
                with contextlib.suppress(Exception):
                    writer.close()

    # -- hospital (or partner) -> upstream ------------------------------------------------------------------------------
    async def _inbound(self, link: _Link) -> None:
        deframer = Deframer(self.hl7.max_frame_bytes)
        while not link.closed:
            try:
                data = await asyncio.wait_for(link.reader.read(READ_BYTES), IDLE_TIMEOUT_S)
            except TimeoutError:
                return
            if not data:
                if link.up_writer is not None and link.up_writer.can_write_eof():
                    with contextlib.suppress(OSError):
                        link.up_writer.write_eof()
                return
            for frame in deframer.feed(data):
                if frame.problem and (frame.oversized or frame.problem != "end block without CR"):
                    self._note(link, frame.payload, Finding(Severity.ERROR, "", f"MLLP: {frame.problem}; not forwarded",
                                                            "framing"))
                    continue
                await self._request(link, frame.payload)
            assert link.up_writer is not None
            await _drain(link.up_writer)
        for frame in deframer.close():
            self._note(link, frame.payload, Finding(Severity.ERROR, "", f"MLLP: {frame.problem}; not forwarded", "framing"))

    async def _request(self, link: _Link, payload: bytes) -> None:
        assert link.up_writer is not None
        side = Side(payload)
        message = validator(self.contract).decode(payload)
        operation = validator(self.contract).route(message) if message.segments else None
        seen = None
        if self.options.strict:
            seen = self.codec.check_request(self.contract, payload, Wire(), self.direction)
            side.findings = seen.findings
            if seen.errors:
                sent = self._answer(link, message, "AR", seen.errors, "strict")
                self._journal(link, side, seen, operation, sent, None, refused="strict")
                if self.recorder is not None:
                    self.recorder.record(operation, side, None, self.senders)
                return
        fault = self.faults.take(operation)
        waiting = _Waiting(side, seen, operation, message.control_id, time.perf_counter(), fault)
        if fault is not None and fault.kind == "latency" and fault.delay_s:
            await wait_at_least(fault.delay_s)
        if fault is not None and fault.phase == "before" and fault.kind in REPLACING:
            self._apply_unforwarded(link, waiting, message)
            return
        if len(link.waiting) >= MAX_WAITING:
            self._note(link, payload, Finding(Severity.ERROR, "", f"more than {MAX_WAITING} messages wait for the "
                                              "upstream's reply on one connection; connection closed", "upstream"))
            self._close(link)
            return
        link.waiting.append(waiting)
        link.wake.set()
        link.up_writer.write(SB + payload + END)

    def _apply_unforwarded(self, link: _Link, waiting: _Waiting, message: Message) -> None:
        """A replacing fault with phase `before`: the message never reaches the upstream."""
        fault = waiting.fault
        assert fault is not None
        waiting.seen = waiting.seen or self.codec.check_request(self.contract, waiting.side.raw, Wire(), self.direction)
        waiting.side.findings = waiting.seen.findings
        wire = None
        if fault.kind == "error_reply":
            wire = self._answer(link, message, fault.code or "AE", [Finding(Severity.ERROR, "", fault.message or
                                                                            "application error (fault)", "internal")])
        elif fault.kind == "malformed":
            wire = self._answer(link, message, "AE", [], cut=True)
        elif fault.kind == "reset":
            _reset(link.writer)
            link.closed = True
        self._journal(link, waiting.side, waiting.seen, waiting.operation, wire, None, fault=fault.kind)

    # -- upstream -> hospital (or partner) ------------------------------------------------------------------------------
    async def _outbound(self, link: _Link) -> None:
        assert link.up_reader is not None
        deframer = Deframer(self.hl7.max_frame_bytes)
        read: asyncio.Future[bytes] | None = None
        idle_since = time.perf_counter()
        try:
            while not link.closed:
                if read is None:
                    read = asyncio.ensure_future(link.up_reader.read(READ_BYTES))
                data = await self._upstream_data(link, read, idle_since)
                if data is None:
                    if link.waiting:
                        problem = Finding(Severity.ERROR, "", f"the upstream did not reply within "
                                          f"{self.options.timeout_s:g} s (--timeout); both connections closed",
                                          "upstream")
                        for waiting in list(link.waiting):
                            self._settle(link, waiting, None, problem)
                        link.waiting.clear()
                    self._close(link)
                    return
                read, idle_since = None, time.perf_counter()
                if not data:
                    self._close(link)
                    return
                for frame in deframer.feed(data):
                    if frame.problem and (frame.oversized or frame.problem != "end block without CR"):
                        self._note(link, frame.payload, Finding(Severity.ERROR, "", f"MLLP from the upstream: "
                                                                f"{frame.problem}; not passed on", "framing"))
                        continue
                    await self._reply(link, frame.payload)
                await _drain(link.writer)
        finally:
            if read is not None:
                read.cancel()

    async def _upstream_data(self, link: _Link, read: asyncio.Future[bytes], idle_since: float) -> bytes | None:
        """What the upstream sent next (b"" when it closed), or None when the wait ran out: the oldest waiting
        message's --timeout, or the idle limit while none waits. A message that starts waiting during an idle wait
        wakes it, so its own deadline applies from then on."""
        while True:
            if link.waiting:
                left = link.waiting[0].started + self.options.timeout_s - time.perf_counter()
                done, _ = await asyncio.wait({read}, timeout=max(0.0, left))
                return read.result() if done else None
            link.wake.clear()
            woken: asyncio.Future[Any] = asyncio.ensure_future(link.wake.wait())
            pending: set[asyncio.Future[Any]] = {read, woken}
            try:
                await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED,
                                   timeout=max(0.0, idle_since + IDLE_TIMEOUT_S - time.perf_counter()))
            finally:
                woken.cancel()
            if read.done():
                return read.result()
            if not link.waiting:
                return None

    async def _reply(self, link: _Link, payload: bytes) -> None:
        reply = validator(self.contract).decode(payload)
        acknowledged = reply.get("MSA-2") if reply.segments else ""
        waiting = next((w for w in link.waiting if acknowledged and w.control == acknowledged), None)
        if waiting is None and link.waiting:
            waiting = link.waiting[0]
        if waiting is None:
            # nothing waits for it: a message the upstream sent on its own, passed on and journaled
            link.writer.write(SB + payload + END)
            self._note(link, payload, Finding(Severity.WARNING, "", "a message from the upstream that answers nothing "
                                              "waiting on this connection", "correlation"), outbound=True)
            return
        link.waiting.remove(waiting)
        fault = waiting.fault
        kind = fault.kind if fault is not None else ""
        wire = SB + payload + END
        answer: Seen | None = None
        if self.options.strict:
            answer = self.codec.check_reply(self.contract, payload, Wire(), waiting.operation, waiting.side.raw,
                                            self.direction)
            if answer.errors:
                original = validator(self.contract).decode(waiting.side.raw)
                first = answer.errors[0]
                wire = self._answer(link, original, "AE", [Finding(
                    Severity.ERROR, first.location, f"hih proxy (--strict): the upstream's reply breaks the contract, "
                    f"not passed on: {first.message}", first.rule)], write=False)
        if kind == "no_reply":
            wire = b""
        elif kind == "reset":
            _reset(link.writer)
            link.closed = True
            wire = b""
        elif kind == "error_reply":
            original = validator(self.contract).decode(waiting.side.raw)
            wire = self._answer(link, original, fault.code or "AE" if fault else "AE", [Finding(
                Severity.ERROR, "", (fault.message if fault else "") or "application error (fault)", "internal")],
                write=False)
        elif kind == "malformed":
            wire = wire[: max(1, len(wire) // 2)]
        elif kind == "wrong_ack_id" and reply.segments:
            msa = reply.segment("MSA")
            if msa is not None and len(msa.fields) > 2:
                msa.fields[2] = (fault.message if fault else "") or f"{msa.fields[2]}-WRONG"
                wire = SB + encode(reply.to_er7(), reply.charset) + END
        elif kind == "garbage":
            wire = ((fault.message.encode("utf-8") if fault and fault.message else GARBAGE)
                    .replace(SB, b"").replace(END[:1], b"") + wire)
        elif kind == "duplicate_ack":
            wire = wire + wire
        if kind == "late_ack" and fault is not None and fault.delay_s:
            await wait_at_least(fault.delay_s)
        if wire and not link.closed:
            if kind == "split_frames":
                await _split(link.writer, wire, fault.delay_s if fault and fault.delay_s else 0.01)
            else:
                link.writer.write(wire)
        self._settle(link, waiting, Side(payload), None, answer, sent=wire)

    # -- answers the proxy makes itself ---------------------------------------------------------------------------------
    def _answer(self, link: _Link, original: Message, code: str, errors: list[Finding], refused: str = "",
                cut: bool = False, write: bool = True) -> bytes:
        """An acknowledgement from the proxy (a refusal, an injected error), framed; written unless `write` is off."""
        ack = self.acks.ack(original if original.segments else None, code, errors, charset=original.charset)
        wire = SB + encode(ack.to_er7(), original.charset or self.hl7.charset.default) + END
        if cut:
            wire = wire[: max(1, len(wire) // 2)]
        if write and not link.closed:
            link.writer.write(wire)
        return wire

    # -- journal and recording ------------------------------------------------------------------------------------------
    def _settle(self, link: _Link, waiting: _Waiting, back: Side | None, problem: Finding | None = None,
                answer: Seen | None = None, sent: bytes | None = None) -> None:
        seen = waiting.seen or self.codec.check_request(self.contract, waiting.side.raw, Wire(), self.direction)
        waiting.side.findings = seen.findings
        if back is not None:
            answer = answer or self.codec.check_reply(self.contract, back.raw, Wire(), waiting.operation,
                                                      waiting.side.raw, self.direction)
            back.findings = answer.findings
        self._journal(link, waiting.side, seen, waiting.operation, sent, answer, problem=problem,
                      fault=waiting.fault.kind if waiting.fault else None, started=waiting.started,
                      reply=back.raw if back is not None else None)
        if self.recorder is not None:
            self.recorder.record(waiting.operation, waiting.side, back, self.senders)

    def _journal(self, link: _Link, side: Side, seen: Seen, operation: str | None, sent: bytes | None,
                 answer: Seen | None, *, refused: str = "", problem: Finding | None = None, fault: str | None = None,
                 started: float | None = None, reply: bytes | None = None) -> None:
        exchange = Exchange(self.interface, "mllp", operation or seen.operation, side.raw, peer=link.peer,
                            meta={"connection": link.number, "upstream": self.options.upstream})
        exchange.request, exchange.request_findings = seen.summary, seen.findings[:MAX_FINDINGS]
        exchange.response_raw = reply if reply is not None else (sent or None)
        exchange.fault = fault
        if answer is not None:
            exchange.response, exchange.response_findings = answer.summary, answer.findings[:MAX_FINDINGS]
        if problem is not None:
            exchange.response_findings = [*exchange.response_findings, problem]
        if refused:
            exchange.meta["refused"] = refused
            exchange.response_raw = sent
        if reply is not None and sent is not None and sent != SB + reply + END:
            exchange.meta["sent_instead"] = True
        if started is not None:
            exchange.duration_ms = (time.perf_counter() - started) * 1000
        self.journal.record(exchange)

    def _note(self, link: _Link, raw: bytes, finding: Finding, outbound: bool = False) -> None:
        exchange = Exchange(self.interface, "mllp", None, raw, peer=link.peer,
                            direction="outbound" if outbound else "inbound",
                            meta={"connection": link.number, "upstream": self.options.upstream})
        exchange.request_findings = [finding]
        self.journal.record(exchange)


async def _drain(writer: asyncio.StreamWriter) -> None:
    """Wait for a peer to take what was written, at most WRITE_TIMEOUT_S (then the connection is closed)."""
    try:
        await asyncio.wait_for(writer.drain(), WRITE_TIMEOUT_S)
    except TimeoutError:
        writer.close()


async def _split(writer: asyncio.StreamWriter, wire: bytes, gap: float) -> None:
    middle = max(1, len(wire) // 2)
    for piece in (wire[:1], wire[1:middle], wire[middle:]):
        if piece:
            writer.write(piece)
            await asyncio.sleep(gap)


def _reset(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            # SO_LINGER 0 turns the close into a TCP RST, as from a crashed peer or a firewall
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()

