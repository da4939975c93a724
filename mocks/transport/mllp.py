"""The MLLP mock transport: an asyncio server for HL7 v2 over MLLP that journals every exchange and applies faults.

`MllpServer(handler, journal, faults, config)` makes one asyncio protocol per connection (`server.protocol`, for
`Runtime.serve_protocol` or `loop.create_server`) and is also a stream handler (`asyncio.start_server`, a connection
fed from memory); `MllpServer.start(runtime)` listens and closes open connections on stop. A frame that never has to
wait is answered inside `data_received`; one that waits (a fault's delay, a duplicate's original) goes on in a task
with the later frames behind it. A partner behaviour (mock LIS, mock PACS) or a hospital-side listener gives it an
`MllpHandler`; journal and faults are optional, so a connector's listener can use the same server without them.

On each connection, for as long as the peer keeps it: bytes are cut into frames whatever the read boundaries
(`harness.contract.hl7.mllp.Deframer`), bytes before a start block are skipped (a warning on the next exchange),
a frame over `max_frame` bytes is refused (AR/CR with ERR 100 when its MSH can be read, then the connection is
closed), a frame stalled for `frame_timeout_s` or a connection idle for `idle_timeout_s` is closed. Each message is
decoded by its MSH-18 (the configured default when blank or unknown), parsed, screened (MSH-9/10/11/12, the
handler's supported types and versions), checked for duplicates (MSH-3/4 + MSH-10: the original ACK is replayed,
the message is not processed again), handed to the handler, and acknowledged by the rules of `mllp_ack`.
FHS/BHS batches are taken apart, each message processed and acknowledged, and answered with one batch ACK.
Faults (`mocks.transport.faults`) change what goes back on the wire. See docs/mllp.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import struct
import time
import zlib
from collections import OrderedDict
from collections.abc import Coroutine, Generator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from harness.contract.findings import Finding, Severity
from harness.contract.hl7.ack_mode import ORIGINAL, AckMode, AckPlan, is_ack, mode_findings, plan, unsent
from harness.contract.hl7.batch import split_capture
from harness.contract.hl7.charsets import CharsetPolicy, Decoded, canonical, decode_message
from harness.contract.hl7.message import Head, Message, from_fields, parse
from harness.contract.hl7.mllp import DEFAULT_MAX_FRAME, EB, END, SB, Deframer, Frame
from harness.contract.hl7.mllp_ack import ACCEPT_OF, AckBuilder, AckSummary, ack_code, encode, summary
from harness.contract.model import Contract
from mocks.transport.busy_poll import BusyPoll
from mocks.transport.faults import Fault, FaultPlan, wait_at_least
from mocks.transport.journal import Exchange, Journal
from mocks.transport.runtime import Listener, Runtime

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO

REPLACING = frozenset({"no_reply", "reset", "error_reply", "malformed", "wrong_ack_id"})
"""Faults that replace the reply: with phase `before` the message is only inspected, not processed."""
HEAD = 4096
"""Bytes kept of the start of the frame in progress: enough for its MSH when the frame turns out oversized."""
NO_REPLY_CAP_S = 600.0
WRITE_HIGH_WATER = 1 << 20
BACKLOG = 1 << 17
"""Bytes held while a frame waits (a fault's delay, a duplicate's original) before reading pauses."""
GARBAGE = b"HIH garbage before the start block\r\n\x00\xff"


# -- what a partner behaviour gives the transport ------------------------------------------------------------------
@dataclass
class Reply:
    """A handler's answer: the application acknowledgement code, its errors, or a whole response message.

    `errors` become ERR segments (errors and warnings); `text` goes to MSA-3; `response` (an ORL^O22 for an
    OML^O21, say) replaces the generic ACK: its empty MSH fields are filled and MSA-2 set by the transport.
    """

    code: str = "AA"
    errors: list[Finding] = field(default_factory=list)
    text: str = ""
    response: Message | None = None
    segments: list[list[str]] | None = None
    """The response as its segments' fields instead of a `Message` (default delimiters; MSH-1 and MSH-2 in
    `fields[1]` and `fields[2]`), completed by the same rules: where no fault or acknowledgement mode needs the
    parsed form, the transport writes it out without building one."""


@dataclass(eq=False)
class MllpExchange(Exchange):
    """An exchange of the MLLP transport, with the parsed message and the acknowledgements built for it.

    `request_raw` is the message's bytes as received (no framing), decoded as `charset`; `response_raw` the bytes
    written back on the wire for it (framing, faults and all; None when nothing was written); `ack_payloads` the
    acknowledgements in it, unframed. `message` and `acks` are their parsed forms: the journal keeps only bytes,
    and parses again on first access (a journal of parsed messages would cost the process long GC pauses).

    What the server journals it keeps as strings, bytes and tuples, which the garbage collector stops walking (a
    journal holds ten thousand exchanges, and the collector walks a list or a dict on every full pass): the ACK
    payloads as a tuple, and `response` (`{"code", "acks": [{"code", "control_id", "acknowledged", "errors"}]}`)
    as the ACKs' summaries, made into that dict each time it is read.
    """

    charset: str = ""
    ack_payloads: Sequence[bytes] = field(default_factory=list, repr=False)
    _message: Message | None = field(default=None, repr=False)
    _acks: list[Message] | None = field(default=None, repr=False)
    _summaries: tuple[str, tuple[tuple[str, str, str, tuple[str, ...]], ...]] | None = field(default=None, repr=False)
    """`keep_response`'s code and summaries; None when `response` was set as a value."""
    _response: ClassVar[Any] = None
    """`response` set as a value (an instance attribute once set)."""

    @property  # type: ignore[misc]  # the dataclass field of Exchange, kept as summaries here
    def response(self) -> Any:
        kept = self._summaries
        if kept is not None:
            return {"code": kept[0], "acks": [{"code": c, "control_id": i, "acknowledged": a, "errors": list(e)}
                                              for c, i, a, e in kept[1]]}
        return self._response

    @response.setter
    def response(self, value: Any) -> None:
        self._summaries = None
        self._response = value  # type: ignore[misc]  # the instance's own, over the class's None

    def keep_response(self, code: str, summaries: Sequence[AckSummary]) -> None:
        """`response` from the ACKs' summaries: `{"code": code, "acks": [summary.to_dict(), ...]}` when read."""
        self._summaries = (code, tuple([(s.code, s.control_id, s.acknowledged, tuple(s.errors)) for s in summaries]))
        self._response = None  # type: ignore[misc]

    @property
    def message(self) -> Message | None:
        if self._message is None and self.request_raw and self.charset and self.request_truncated is None:
            self._message = _decode(self.request_raw, self.charset)
        return self._message

    @message.setter
    def message(self, value: Message | None) -> None:
        self._message = value

    @property
    def acks(self) -> list[Message]:
        if self._acks is None:
            self._acks = [_decode(p, self.charset) for p in self.ack_payloads]
        return self._acks

    @acks.setter
    def acks(self, value: list[Message]) -> None:
        self._acks = value

    def forget_parsed(self) -> None:
        """Drop the parsed forms (they come back from the bytes when asked for)."""
        self._message = None
        self._acks = None


def _decode(raw: bytes, charset: str) -> Message:
    name = charset or "UNICODE UTF-8"
    decoded = decode_message(raw, CharsetPolicy(default=name, accepted=(name,)))
    return parse(decoded.text, decoded.charset)


class MllpHandler(Protocol):
    """What a partner behaviour (mock LIS, mock PACS, a hospital listener) gives the MLLP transport."""

    interface: str

    def identify(self, message: Message) -> str | None:
        """The contract message key (`ORU^R01`) or None when unsupported: labels the journal, matches faults."""

    def screen(self, message: Message) -> list[Finding]:
        """Header checks that decide whether the message is accepted at all: unsupported type (rule
        `message_type`, ERR 200) or trigger (`event`, 201), version (`version`, 203). Errors here reject it
        (AR / CR) before it is processed."""

    async def handle(self, message: Message, exchange: MllpExchange) -> Reply:
        """Validate and process an accepted message, adding findings to `exchange.request_findings`."""

    def inspect(self, message: Message, exchange: MllpExchange) -> None:
        """Validate without acting, for messages a fault drops before processing."""


# -- configuration -------------------------------------------------------------------------------------------------
@dataclass
class MllpConfig:
    """Settings of one MLLP server.

    `ack_mode`: the acknowledgement mode the receiver declares (`harness.contract.hl7.ack_mode`): original (the
    default) answers every message once, AA/AE/AR, whatever its MSH-15/16 say; enhanced follows them.
    `required_msh`: MSH fields whose absence rejects a message (AR/CR, ERR 101). `idle_timeout_s`: close a
    connection with no frame in progress after this long without a byte (0: never). `frame_timeout_s`: close a
    connection whose frame has stalled (no byte for this long while a frame is open). `duplicates`: how many
    (sender, MSH-10) keys are remembered for duplicate detection.
    """

    max_frame: int = DEFAULT_MAX_FRAME
    charset: CharsetPolicy = field(default_factory=CharsetPolicy)
    application: str = "HIH"
    facility: str = "HIH"
    version: str = "2.5.1"
    required_msh: tuple[int, ...] = (9, 10, 11, 12)
    idle_timeout_s: float = 600.0
    frame_timeout_s: float = 0.8
    duplicates: int = 10_000
    max_errors: int = 20
    split_gap_s: float = 0.01
    ack_mode: AckMode = field(default_factory=AckMode)

    @classmethod
    def from_contract(cls, contract: Contract, **overrides: Any) -> MllpConfig:
        """Frame limit, character sets, default version and acknowledgement mode from an `hl7v2-mllp` contract."""
        from harness.contract.hl7.contract import settings

        s = settings(contract)
        values: dict[str, Any] = {"max_frame": s.max_frame_bytes, "charset": s.charset,
                                  "version": s.versions[-1] if s.versions else "2.5.1",
                                  "application": contract.interface.upper(), "ack_mode": s.ack}
        values.update(overrides)
        return cls(**values)


# -- ready-made handlers -------------------------------------------------------------------------------------------
def _routing_findings(mtype: str, known: Iterable[str]) -> list[Finding]:
    known = list(known)
    kind, _, trigger = mtype.partition("^")
    listed = ", ".join(known)
    if any(k.split("^")[0] == kind for k in known):
        return [Finding(ERROR, "MSH-9.2", f"trigger event {trigger or '(none)'} of {kind} is not supported "
                        f"(known: {listed})", "event")]
    return [Finding(ERROR, "MSH-9.1", f"message type {mtype} is not supported (known: {listed})", "message_type")]


class AcceptAll:
    """Accepts every message (or those of `message_types`) with `code`, without looking at the content."""

    def __init__(self, interface: str = "mllp", message_types: Iterable[str] | None = None, code: str = "AA") -> None:
        self.interface = interface
        self.message_types = frozenset(message_types) if message_types is not None else None
        self.code = code
        self.handled = 0

    def identify(self, message: Message) -> str | None:
        mtype = message.message_type
        if self.message_types is None:
            return mtype or None
        return mtype if mtype in self.message_types else None

    def screen(self, message: Message) -> list[Finding]:
        if self.message_types is None or message.message_type in self.message_types:
            return []
        return _routing_findings(message.message_type, sorted(self.message_types))

    async def handle(self, message: Message, exchange: MllpExchange) -> Reply:
        self.handled += 1
        return Reply(self.code)

    def inspect(self, message: Message, exchange: MllpExchange) -> None:
        return None


class ContractHandler:
    """Validates each message against an `hl7v2-mllp` contract and acknowledges by its findings.

    Unknown types and triggers, messages going the other way than the contract says, and unaccepted versions are
    rejected (AR/CR with ERR 200/201/203, never processed, never CA); a message with
    errors is answered AE with one ERR per error; a valid one AA. `direction` is the way messages to this server
    travel (`from_hospital` for a mock partner, `to_hospital` for a hospital's listener). Subclasses act on valid
    messages by overriding `process`.
    """

    def __init__(self, contract: Contract, direction: str = "from_hospital") -> None:
        from harness.contract.hl7.contract import HL7Validator

        validator = contract.extra.get("hl7_validator")
        if not isinstance(validator, HL7Validator):
            validator = HL7Validator(contract)
            contract.extra["hl7_validator"] = validator
        self.validator = validator
        self.contract = contract
        self.interface = contract.interface
        self.direction = direction
        self._routed: tuple[Message | None, str, str | None] = (None, "", None)

    def _route(self, message: Message) -> str | None:
        """`validator.route`, remembered for the message just routed (the transport identifies, then screens)."""
        msh9 = message.segments[0].field(9) if message.segments else ""
        last, seen, key = self._routed
        if last is message and seen == msh9:
            return key
        key = self.validator.route(message)
        self._routed = (message, msh9, key)
        return key

    def identify(self, message: Message) -> str | None:
        return self._route(message)

    def screen(self, message: Message) -> list[Finding]:
        key = self._route(message)
        if key is None:
            _, findings = self.validator.check_message(message)
            return findings
        profile = self.contract.operations[key].extra.get("profile")
        allowed = getattr(profile, "versions", ()) or self.validator.settings.versions
        version = message.version
        if version and version not in allowed:
            return [Finding(ERROR, "MSH-12", f"HL7 version {version} is not accepted for {key} "
                            f"(accepted: {', '.join(allowed)})", "version")]
        return self.validator.direction_findings(key, self.direction)

    async def handle(self, message: Message, exchange: MllpExchange) -> Reply:
        key, findings = self.validator.check_message(message, self.direction)
        exchange.request_findings.extend(findings)
        code = ack_code(exchange.request_findings)
        reply = await self.process(message, key, exchange, code)
        if reply is not None:
            return reply
        return Reply(code, [f for f in exchange.request_findings if f.severity is ERROR])

    async def process(self, message: Message, key: str | None, exchange: MllpExchange, code: str) -> Reply | None:
        """Act on a message (store an order, answer with an ORL^O22 ...); None: acknowledge by the findings."""
        return None

    def inspect(self, message: Message, exchange: MllpExchange) -> None:
        _, findings = self.validator.check_message(message, self.direction)
        exchange.request_findings.extend(findings)


# -- duplicate detection -------------------------------------------------------------------------------------------
@dataclass(slots=True)
class _Seen:
    """A (sender, MSH-10) already processed: its exchange, a checksum of its bytes, the ACK payloads sent (a tuple:
    the collector stops walking it, and ten thousand are kept)."""

    crc: int
    finished: bool = False
    exchange_id: int = 0
    acks: tuple[bytes, ...] = ()
    waiter: asyncio.Future[None] | None = None
    """Made when a duplicate arrives while the original is still in progress (rare): it waits on this."""

    def finish(self, exchange_id: int, acks: Sequence[bytes]) -> None:
        self.finished = True
        self.exchange_id = exchange_id
        self.acks = tuple(acks)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def wait(self) -> None:
        if not self.finished:
            if self.waiter is None:
                self.waiter = asyncio.get_running_loop().create_future()
            await self.waiter


class _Duplicates:
    """The last `capacity` (MSH-3, MSH-4, MSH-10) keys and their original ACKs (oldest forgotten first)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        # an OrderedDict: letting the oldest go is O(1); a dict's first key, after many deletions at its front, is
        # found by walking the deleted slots (18 µs a message at 10,000 keys, against 1.4)
        self._seen: OrderedDict[tuple[str, str, str], _Seen] = OrderedDict()

    def get(self, key: tuple[str, str, str]) -> _Seen | None:
        return self._seen.get(key)

    def add(self, key: tuple[str, str, str], seen: _Seen) -> None:
        self._seen[key] = seen
        while len(self._seen) > self.capacity:
            self._seen.popitem(last=False)

    def forget(self, key: tuple[str, str, str]) -> None:
        self._seen.pop(key, None)

    def clear(self) -> None:
        self._seen.clear()

    def __len__(self) -> int:
        return len(self._seen)


# -- the server ----------------------------------------------------------------------------------------------------
@dataclass(slots=True)
class _Outcome:
    """What processing produced: the exchange to journal, the ACKs, the fault, the payloads to send.

    `genuine` are the ACK payloads the message earned; `payloads` what is sent after a reply-changing fault.
    """

    exchange: MllpExchange
    acks: list[Message]
    charset: str
    fault: Fault | None = None
    declared: bool = False
    """The message declared its charset in MSH-18 (so its ACKs name theirs)."""
    plan: AckPlan = ORIGINAL
    """The acknowledgements the message is owed (the receiver's declared mode; in enhanced mode MSH-15/16)."""
    in_batch: bool = False
    """Inside a batch: exactly one acknowledgement per message, whatever the mode."""
    seen: _Seen | None = None
    genuine: list[bytes] = field(default_factory=list)
    payloads: list[bytes] = field(default_factory=list)
    summaries: list[AckSummary] | None = None
    """The ACKs' summaries when `genuine` was written without parsed ACKs (`acks` empty: the journal parses the
    payloads when asked)."""

    @property
    def enhanced(self) -> bool:
        return self.plan.enhanced

    @property
    def label(self) -> str:
        """What the ACKs' MSH-18 says: the charset used when the message declared one."""
        return self.charset if self.declared else ""

    def resolve(self) -> None:
        """Let duplicates waiting for this message go on (with its genuine ACKs)."""
        seen = self.seen
        if seen is not None and not seen.finished:
            seen.finish(self.exchange.id, self.genuine)


def _is_hl7(msg: Message | None) -> bool:
    return msg is not None and bool(msg.segments) and msg.segments[0].name == "MSH"


def parse_ack(payload: bytes, charset: str) -> Message:
    """An ACK payload the server built, parsed back (for replayed duplicates)."""
    return _decode(payload, charset)


class MllpServer:
    """An MLLP server: a stream handler (`await server(reader, writer)`) serving one connection per call."""

    def __init__(self, handler: MllpHandler, journal: Journal | None = None, faults: FaultPlan | None = None,
                 config: MllpConfig | None = None) -> None:
        self.handler = handler
        self.journal = journal
        self.faults = faults
        self.config = config or MllpConfig()
        self.acks = AckBuilder(self.config.application, self.config.facility, self.config.version,
                               self.config.max_errors)
        self.duplicates = _Duplicates(self.config.duplicates)
        self.connections: set[_Connection] = set()
        self._ids = itertools.count(1)
        self.poll: BusyPoll | None = None
        """The loop's bounded poll before sleeping (`Runtime.poll_before_sleeping`), taken when the server starts."""

    def protocol(self) -> asyncio.Protocol:
        """A protocol for one new connection (`loop.create_server(server.protocol, ...)`)."""
        return _Connection(self, next(self._ids))

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one connection given as asyncio streams (`asyncio.start_server`, a connection fed from memory)."""
        conn = _Connection(self, next(self._ids))
        transport = _StreamTransport(reader, writer)
        conn.connection_made(transport)
        lost: Exception | None = None
        try:
            while not conn.closed:
                data = await reader.read(65536)
                if not data:
                    conn.eof_received()
                    break
                conn.data_received(data)
                await conn.idle()
            await conn.idle()
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            lost = exc
        finally:
            conn.connection_lost(lost)

    def start(self, runtime: Runtime, host: str = "127.0.0.1", port: int = 0, reuse_port: bool = False) -> Listener:
        """Listen on host:port on the runtime's loop; stopping the listener also closes open connections."""
        self.poll = runtime.busy_poll
        listener = runtime.serve_protocol(self.protocol, host, port, reuse_port=reuse_port)
        stop_listening = listener.stop

        async def stop() -> None:
            await self.aclose()
            await stop_listening()

        listener.stop = stop
        return listener

    async def aclose(self) -> None:
        """Close every open connection."""
        for conn in list(self.connections):
            conn.close()
        for _ in range(3):
            await asyncio.sleep(0)

    def clear(self) -> None:
        """Forget the messages seen (duplicate detection starts afresh), as a mock reset does."""
        self.duplicates.clear()

    def record(self, exchange: MllpExchange, started: float) -> None:
        exchange.duration_ms = (time.perf_counter() - started) * 1000
        if self.journal is not None:
            self.journal.record(exchange)

    def take_fault(self, operation: str | None) -> Fault | None:
        return self.faults.take(operation) if self.faults is not None else None

    # -- one message ------------------------------------------------------------------------------------
    async def process(self, raw: bytes, peer: str, meta: dict[str, Any], findings: list[Finding],
                      in_batch: bool = False, fault: Fault | None = None) -> _Outcome:
        """Decode, screen, de-duplicate, handle and acknowledge one message's bytes; nothing is written here.

        Outside a batch the fault for the message is taken here; inside one the batch's fault is passed in.
        """
        cfg = self.config
        handler = self.handler
        exchange = MllpExchange(handler.interface, "mllp", None, raw, peer=peer, meta=meta)
        decoded = decode_message(raw, cfg.charset)
        msg = parse(decoded.text, decoded.charset)
        if decoded.findings and msg.segments:
            msg.findings[:0] = decoded.findings
        exchange.message = msg
        exchange.request_findings = findings + msg.findings
        charset = exchange.charset = decoded.charset
        hl7 = _is_hl7(msg)
        outcome = _Outcome(exchange, [], charset, declared=bool(decoded.declared), in_batch=in_batch)
        head = msg.head() if hl7 else None
        if head is not None:
            mtype, control, version, sender, receiver, _ = head
            if cfg.ack_mode.enhanced:  # original mode owes one acknowledgement whatever the header says
                outcome.plan = plan(cfg.ack_mode, msg)
            exchange.operation = handler.identify(msg) or mtype or None
            exchange.request = {
                "message_type": mtype, "control_id": control, "version": version,
                "sender": "^".join(sender), "receiver": "^".join(receiver), "charset": charset,
                "declared_charset": decoded.declared, "mode": "enhanced" if outcome.enhanced else "original",
                "segments": len(msg.segments),
            }
            if mtype.split("^", 1)[0] == "ACK":  # `is_ack`: journaled, never itself acknowledged (nor faulted)
                handler.inspect(msg, exchange)
                exchange.request_findings.append(Finding(
                    WARNING, "MSH-9", f"an acknowledgement (MSA-2 {msg.get('MSA-2')!r}) arrived as a message: "
                    "journaled, not answered (an acknowledgement is never acknowledged)", "ack"))
                return outcome
        if not in_batch:
            fault = self.take_fault(exchange.operation)
        exchange.fault = fault.kind if fault is not None else None
        outcome.fault = fault
        if head is None:
            errors = [f for f in exchange.request_findings if f.severity is ERROR] or [
                Finding(ERROR, "", "not an HL7 v2 message", "parse")]
            outcome.acks = [self.acks.ack(None, "AR", errors)]
            return outcome
        try:
            return await self._process(msg, head, raw, outcome, decoded, fault, in_batch)
        finally:
            # original mode declared and MSH-15/16 empty (the head read them): nothing to note, by `mode_findings`
            if cfg.ack_mode.enhanced or head.enhanced_mode:
                self._note_mode(outcome, msg)

    async def _process(self, msg: Message, head: Head, raw: bytes, outcome: _Outcome, decoded: Decoded,
                       fault: Fault | None, in_batch: bool) -> _Outcome:
        """Acceptance, duplicates and the handler, for a message with an MSH (`head`: what it says)."""
        cfg = self.config
        handler = self.handler
        exchange = outcome.exchange
        charset = outcome.charset
        _, control, _, sender, _, _ = head
        # 1. acceptance: a usable header, a message the handler takes, text that decodes as declared
        fields = msg.segments[0].fields
        count = len(fields)
        rejects = []
        for n in cfg.required_msh:
            if not (0 < n < count and fields[n].strip()):
                rejects.append(Finding(ERROR, f"MSH-{n}", f"required field MSH-{n} is empty", "usage"))
        if not rejects:
            screened = handler.screen(msg)
            if screened:
                rejects = [f for f in screened if f.severity is ERROR]
        if rejects:
            exchange.request_findings.extend(rejects)
            outcome.acks = self._answer(outcome, "AR", rejects, processed=False)
            return outcome
        # text decoded with another charset than the one meant, or with replacement characters, is not processed
        meant = (canonical(decoded.declared)[0] if decoded.declared else None) or cfg.charset.default
        garbled = not raw.isascii() and (charset != meant or "\ufffd" in decoded.text)
        undecodable = [f for f in msg.findings if f.severity is ERROR and f.rule == "charset"] if garbled else []
        if undecodable:
            outcome.acks = self._answer(outcome, "AE", undecodable, processed=False)
            return outcome
        # 2. duplicates: the same sender and MSH-10 get the original ACK again, unprocessed
        key = (sender[0], sender[1], control)
        crc = zlib.crc32(raw)
        seen = self.duplicates.get(key)
        if seen is not None:
            if not seen.finished:
                await seen.wait()
            exchange.meta["duplicate_of"] = seen.exchange_id
            exchange.request_findings.append(Finding(
                INFO, "MSH-10", f"duplicate of exchange {seen.exchange_id} (same MSH-3/4 and MSH-10): not processed "
                "again; the original acknowledgement is sent again", "duplicate"))
            if seen.crc != crc:
                exchange.request_findings.append(Finding(
                    WARNING, "MSH-10", f"MSH-10 {control!r} was used before by this sender for a message with "
                    "different content", "duplicate"))
            outcome.genuine = list(seen.acks)
            outcome.acks = [parse_ack(p, charset) for p in seen.acks]
            return outcome
        # 3. processing, unless a fault drops the message first
        if fault is not None and fault.phase == "before" and fault.kind in REPLACING:
            handler.inspect(msg, exchange)
            return outcome
        if fault is not None and fault.kind == "latency" and fault.delay_s and not in_batch:
            await wait_at_least(fault.delay_s)
        outcome.seen = _Seen(crc)
        self.duplicates.add(key, outcome.seen)
        try:
            try:
                reply = await handler.handle(msg, exchange)
            except Exception as exc:  # a handler's bug must not take the connection down: AE 207
                problem = Finding(ERROR, "", f"application internal error: {type(exc).__name__}: {exc}", "internal")
                exchange.request_findings.append(problem)
                reply = Reply("AE", [problem])
                self.duplicates.forget(key)  # nothing was done: a retry is processed afresh
            outcome.acks = self._answer(outcome, reply.code, reply.errors, processed=True, reply=reply)
        except BaseException:
            self.duplicates.forget(key)
            outcome.resolve()
            raise
        return outcome

    def _ack(self, outcome: _Outcome, code: str, errors: Sequence[Finding] = (), text: str = "") -> Message:
        msg = outcome.exchange.message
        return self.acks.ack(msg, code, errors, text, outcome.label, enhanced=outcome.enhanced,
                             declared=outcome.declared)

    def _answer(self, outcome: _Outcome, code: str, errors: list[Finding], processed: bool,
                reply: Reply | None = None) -> list[Message]:
        """The acknowledgements a message gets: one in original mode and inside a batch; in enhanced mode the accept
        ACK (by MSH-15) and, for a processed message, the application ACK (by MSH-16). A rejection that MSH-15
        keeps back goes out as an application AR when MSH-16 allows; an outcome other than success that reaches
        the sender in no acknowledgement is journaled as a finding."""
        msg = outcome.exchange.message
        assert msg is not None
        text = reply.text if reply is not None else ""
        if reply is not None and reply.segments is not None and reply.response is None:
            if not outcome.plan.enhanced and outcome.fault is None and not outcome.in_batch:
                # the common case: one response, nothing to change in it: its text straight from the fields
                er7, done = self.acks.complete_text(reply.segments, msg, code, outcome.label)
                outcome.genuine = [encode(er7, outcome.charset)]
                outcome.summaries = [done]
                return []
            reply.response = from_fields(reply.segments)

        def application() -> Message:
            if reply is not None and reply.response is not None:
                return self.acks.complete(reply.response, msg, code, outcome.label)
            return self._ack(outcome, code, errors, text)

        plan_ = outcome.plan
        if not plan_.enhanced:
            return [application()]
        accept = "CA" if processed else ACCEPT_OF.get(code, "CR")
        if outcome.in_batch:  # one acknowledgement per message in the batch reply
            return [application() if processed else self._ack(outcome, accept, errors)]
        out = []
        if plan_.sends_accept(accept == "CA"):
            out.append(self._ack(outcome, accept, [] if processed else errors))
        if processed and plan_.sends_application(code == "AA"):
            out.append(application())
        elif not processed and accept != "CA" and not out and plan_.sends_application(False):
            out.append(self._ack(outcome, "AR", errors))
        missed = unsent(plan_, [summary(a).code for a in out], accept if accept != "CA" else code)
        if missed is not None:
            outcome.exchange.request_findings.append(missed)
        return out

    def _note_mode(self, outcome: _Outcome, msg: Message) -> None:
        """The findings about the sender's MSH-15/16 under the declared mode, once (a contract handler's validation
        has made the same ones already)."""
        findings = outcome.exchange.request_findings
        for finding in mode_findings(self.config.ack_mode, msg):
            if finding not in findings:
                findings.append(finding)

    def settle(self, outcome: _Outcome, wire_faults: bool = True) -> None:
        """Encode the outcome's ACKs (`genuine`) and what is sent instead under a reply-changing fault (`payloads`)."""
        charset = outcome.charset
        if not outcome.genuine:
            outcome.genuine = [encode(a.to_er7(), charset) for a in outcome.acks]
        changed = self._fault_acks(outcome)
        if changed is None:
            outcome.payloads = list(outcome.genuine)
        else:
            outcome.acks = changed
            outcome.payloads = [encode(a.to_er7(), charset) for a in changed]
        fault = outcome.fault
        if wire_faults and fault is not None and fault.kind == "malformed" and outcome.payloads:
            first = outcome.payloads[0]
            outcome.payloads = [first[: max(1, len(first) // 2)]]

    def _fault_acks(self, outcome: _Outcome) -> list[Message] | None:
        fault = outcome.fault
        msg = outcome.exchange.message
        if fault is None or msg is None or not _is_hl7(msg):
            return None
        if fault.kind == "error_reply":
            code = fault.code or "AE"
            problem = Finding(ERROR, "", fault.message or "application error (fault)", "internal")
            if code in ("CA", "CE", "CR") or not outcome.enhanced or outcome.in_batch:
                return [self._ack(outcome, code, [problem], fault.message)]
            accept = [a for a in outcome.acks if summary(a).code in ("CA", "CE", "CR")]
            if not accept and outcome.plan.sends_accept(True):
                accept = [self._ack(outcome, "CA")]
            return [*accept, self._ack(outcome, code, [problem], fault.message)]
        if fault.kind == "wrong_ack_id":
            acks = outcome.acks or [self._ack(outcome, "AA")]
            wrong = fault.message or f"{msg.segments[0].field(10)}-WRONG"
            for ack in acks:
                msa = ack.segment("MSA")
                if msa is not None and len(msa.fields) > 2:
                    msa.fields[2] = wrong
            return acks
        if fault.kind == "malformed" and not outcome.acks:
            return [self._ack(outcome, "AE", (), "malformed (fault)")]
        return None

    def finish(self, outcome: _Outcome, wire: bytes | None, started: float) -> None:
        """Fill the exchange's reply side and journal it; let waiting duplicates go on."""
        exchange = outcome.exchange
        if outcome.summaries is None:
            exchange.acks = outcome.acks
        exchange.ack_payloads = tuple(outcome.payloads)
        exchange.charset = exchange.charset or outcome.charset
        exchange.response_raw = wire
        sums = outcome.summaries if outcome.summaries is not None else [summary(a) for a in outcome.acks]
        if sums:
            code = sums[-1].code if len(sums) == 1 else next(
                (s.code for s in sums if s.code not in ("AA", "CA")), sums[-1].code)
            exchange.keep_response(code, sums)
        self.record(exchange, started)
        outcome.resolve()
        exchange.forget_parsed()


def _framed(payloads: Sequence[bytes]) -> bytes:
    if len(payloads) == 1:
        return b"%b%b%b" % (SB, payloads[0], END)
    return b"".join([SB + p + END for p in payloads])


def _peer(transport: Any) -> str:
    peer = transport.get_extra_info("peername")
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else str(peer or "")


class _Resumed:
    """A coroutine that already ran up to its first suspension (it yielded `waiting`), awaited as if it had run in
    the awaiting task from its start: every later yield goes to that task, every value or exception back into it."""

    __slots__ = ("coro", "waiting")

    def __init__(self, coro: Coroutine[Any, Any, None], waiting: Any) -> None:
        self.coro = coro
        self.waiting = waiting

    def __await__(self) -> Generator[Any, Any, None]:
        coro, waiting = self.coro, self.waiting
        while True:
            try:
                sent = yield waiting
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # noqa: BLE001 - cancellation included: the coroutine decides
                try:
                    waiting = coro.throw(exc)
                except StopIteration:
                    return
            else:
                try:
                    waiting = coro.send(sent)
                except StopIteration:
                    return


class _StreamTransport:
    """The transport face of a pair of asyncio streams, so a connection given as streams (`MllpServer.__call__`)
    runs through the same protocol."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def write(self, data: bytes) -> None:
        self.writer.write(data)

    def is_closing(self) -> bool:
        return self.writer.is_closing()

    def close(self) -> None:
        self.writer.close()

    def abort(self) -> None:
        self.writer.transport.abort()

    def get_write_buffer_size(self) -> int:
        return int(self.writer.transport.get_write_buffer_size())

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        return None

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.writer.get_extra_info(name, default)

    def can_write_eof(self) -> bool:
        return self.writer.can_write_eof()

    def write_eof(self) -> None:
        self.writer.write_eof()

    def pause_reading(self) -> None:
        return None  # the stream loop reads only when the connection is idle

    def resume_reading(self) -> None:
        return None


class _Connection(asyncio.Protocol):
    """One client connection: cut frames from what arrives, process them in order, write the replies.

    A frame whose processing never has to wait (the common case: no fault delays it, no duplicate waits for its
    original, the write buffer is not full) is processed and answered inside `data_received`, with no stream, task
    or future in between. One that has to wait goes on in a task; what arrives meanwhile is held (reading paused
    beyond BACKLOG bytes) and processed in order after it.
    """

    def __init__(self, server: MllpServer, number: int) -> None:
        self.server = server
        self.number = number
        self.transport: Any = None
        self.peer = ""
        self.deframer = Deframer(server.config.max_frame)
        self.loop = asyncio.get_running_loop()
        self.last = self.loop.time()
        self.busy = False
        self.closed = False
        self.frames = 0
        self.received = 0
        self.first = b""
        self.head = bytearray()
        self.open = False
        self.held = b""
        self._timer: asyncio.TimerHandle | None = None
        self._deadline = 0.0
        self._task: asyncio.Task[None] | None = None
        self._backlog: list[bytes] = []
        self._backlog_bytes = 0
        self._reading_paused = False
        self._writable: asyncio.Future[None] | None = None
        self._eof = False
        self._discarding = False
        """After refusing an oversized frame: what the peer still sends is dropped until it closes (or 1 s)."""
        self._end_due = True
        """The end-of-stream notes (a frame cut off, bytes without any frame) are still to be made."""

    # -- life cycle -------------------------------------------------------------------------------------
    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.peer = _peer(transport)
        transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        self.server.connections.add(self)
        self._arm(self.server.config.idle_timeout_s)

    def data_received(self, data: bytes) -> None:
        if self.closed or self._discarding:
            return
        if self._task is not None:
            self._backlog.append(data)
            self._backlog_bytes += len(data)
            if self._backlog_bytes > BACKLOG and not self._reading_paused:
                self._reading_paused = True
                self.transport.pause_reading()
            return
        try:
            self._run(self._take(data))
        except ConnectionError:
            self._end_due = False
            self.close()
        except Exception as exc:  # one connection's trouble must never reach the server
            self._failed(exc)
        poll = self.server.poll
        if poll is not None:  # answered: keep the loop awake for the next order a little while
            poll.poke()

    def eof_received(self) -> bool:
        self._eof = True
        if self._discarding:
            self.close()
        elif self._task is None:
            self._ended()
        return True  # the transport stays open for what is still to be written; close() ends it

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:  # reset by the peer: no end of stream to report on
            self._end_due = False
        if self._task is None:
            self._ended()  # closed under an idle connection (a timeout, a stop): as at the end of the stream
        else:
            self.close()
        self.server.connections.discard(self)
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    def pause_writing(self) -> None:
        if self._writable is None or self._writable.done():
            self._writable = self.loop.create_future()

    def resume_writing(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    def _take(self, data: bytes) -> list[Frame]:
        """Account for bytes read; the frames they complete."""
        cfg = self.server.config
        self.last = self.loop.time()
        if not self.received:
            self.first = data[:HEAD]
        self.received += len(data)
        self._track_head(data)
        frames = self.deframer.feed(data)
        if cfg.frame_timeout_s and self._deadline > self.last + cfg.frame_timeout_s and self._frame_open():
            self._arm(cfg.frame_timeout_s)
        return frames

    def _run(self, frames: list[Frame]) -> None:
        """Process frames in order, each to its end inside this call unless it has to wait: then it and the rest go
        on in a task."""
        last = len(frames) - 1
        for index, frame in enumerate(frames):
            coro = self._frame(frame, more=index < last)
            try:
                waiting = coro.send(None)
            except StopIteration:
                if self.gone():
                    self._end_due = False
                    return
                continue
            self._task = self.loop.create_task(self._resume(coro, waiting, frames[index + 1 :], last - index))
            return
        if self.held:
            self._write(b"")

    async def _resume(self, coro: Coroutine[Any, Any, None], waiting: Any, rest: list[Frame], left: int) -> None:
        """Finish a frame that had to wait, then the frames after it and what arrived meanwhile."""
        try:
            await _Resumed(coro, waiting)
            if not self.gone():
                await self._frames(rest)
            while self._backlog and not self.gone():
                data = b"".join(self._backlog)
                self._backlog.clear()
                self._backlog_bytes = 0
                if self._reading_paused and not self.closed:
                    self._reading_paused = False
                    self.transport.resume_reading()
                await self._frames(self._take(data))
            if self.gone():
                self._end_due = False
        except ConnectionError:
            self._end_due = False
            self.close()
        except Exception as exc:  # one connection's trouble must never reach the server
            self._failed(exc)
        finally:
            self._task = None
        if self._eof and not self.closed:
            self._ended()

    async def _frames(self, frames: list[Frame]) -> None:
        last = len(frames) - 1
        for index, frame in enumerate(frames):
            await self._frame(frame, more=index < last)
            if self.gone():
                return
        if self.held:
            self._write(b"")

    def _failed(self, exc: Exception) -> None:
        self._end_due = False
        self._note(b"", Finding(ERROR, "", f"transport error: {type(exc).__name__}: {exc}", "internal"))
        self.close()

    def _ended(self) -> None:
        """The stream ended (or the connection was closed under it): report a frame cut off and bytes that held no
        frame at all, once; then close."""
        if self._end_due:
            self._end_due = False
            for frame in self.deframer.close():
                self._note(frame.payload, Finding(ERROR, "", f"MLLP: {frame.problem}; the frame was not processed",
                                                  "framing"), frame)
            if not self.frames and self.received:
                self._note(self.first, Finding(ERROR, "", f"{self.received} bytes received and no MLLP frame (0x0B "
                                               "... 0x1C 0x0D) among them", "framing"))
        self.close()

    async def idle(self) -> None:
        """Wait until no frame is in progress."""
        while self._task is not None:
            await asyncio.wait([self._task])

    def gone(self) -> bool:
        """Closed (by a fault, a timeout or the peer) or closing after a refusal; a method, so that checks after an
        await are not narrowed away."""
        return self.closed or self._discarding

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
        with contextlib.suppress(Exception):
            self.transport.close()

    def _arm(self, delay: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if delay > 0 and not self.closed:
            self._deadline = self.loop.time() + delay
            self._timer = self.loop.call_at(self._deadline, self._watch)
        else:
            self._deadline = float("inf")

    def _watch(self) -> None:
        """Close a connection whose frame stalled or that sat idle; re-arm otherwise."""
        self._timer = None
        cfg = self.server.config
        now = self.loop.time()
        open_frame = self._frame_open()
        limit = cfg.frame_timeout_s if open_frame and cfg.frame_timeout_s else cfg.idle_timeout_s
        if self.busy or not limit:
            self._arm(cfg.frame_timeout_s or cfg.idle_timeout_s or 1.0)
            return
        if now - self.last >= limit:
            if open_frame:
                self._note(bytes(self.head), Finding(
                    ERROR, "", f"MLLP: frame incomplete, no byte for {limit:g} s ({self.deframer.pending} bytes held "
                    "without an end block); connection closed", "framing"))
            self._ended()
            return
        # Timers may fire a hair early; a remainder that rounds to zero must not read as "no timeout" to _arm.
        self._arm(max(self.last + limit - now, 0.001))

    def _track_head(self, data: bytes) -> None:
        """Keep the start of the frame in progress (for an oversized frame's MSH) and whether one is open."""
        start = data.rfind(SB)
        if start >= 0:
            self.head = bytearray(data[start + 1 : start + 1 + HEAD])
        elif len(self.head) < HEAD:
            self.head += data[: HEAD - len(self.head)]
        end = data.rfind(EB)
        if start > end:
            self.open = True
        elif end > start:
            self.open = False

    def _frame_open(self) -> bool:
        return self.open or self.deframer.pending > 0

    # -- writing ----------------------------------------------------------------------------------------
    def _write(self, data: bytes) -> None:
        if self.held:
            data, self.held = self.held + data, b""
        if data and not self.closed and not self.transport.is_closing():
            self.transport.write(data)

    async def _drain(self) -> None:
        transport = self.transport
        if self.closed or transport.get_write_buffer_size() <= WRITE_HIGH_WATER:
            return
        if isinstance(transport, _StreamTransport):
            waiter: asyncio.Future[Any] = asyncio.ensure_future(transport.writer.drain())
        else:
            if self._writable is None or self._writable.done():
                self._writable = self.loop.create_future()
            waiter = self._writable
        _, pending = await asyncio.wait([waiter], timeout=self.server.config.idle_timeout_s or NO_REPLY_CAP_S)
        if pending:
            self.close()

    def _reset(self) -> None:
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                # SO_LINGER 0 turns the close into a TCP RST, as from a crashed peer or a firewall
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
        self.transport.abort()

    # -- frames -----------------------------------------------------------------------------------------
    def _note(self, raw: bytes, finding: Finding, frame: Frame | None = None) -> None:
        """Journal bytes that were not a message to process (broken frame, garbage, transport trouble)."""
        exchange = MllpExchange(self.server.handler.interface, "mllp", None, raw, peer=self.peer,
                                meta={"connection": self.number, "frame": self.frames})
        exchange.request_findings = [finding]
        if frame is not None and frame.skipped:
            exchange.request_findings.append(self._skipped(frame.skipped))
        self.server.record(exchange, time.perf_counter())

    @staticmethod
    def _skipped(count: int) -> Finding:
        return Finding(WARNING, "", f"MLLP: {count} bytes before the start block skipped", "framing")

    async def _frame(self, frame: Frame, more: bool) -> None:
        self.frames += 1
        started = time.perf_counter()
        if frame.oversized:
            await self._oversized(frame, started)
            return
        if frame.problem and frame.problem != "end block without CR":
            self._note(frame.payload, Finding(ERROR, "", f"MLLP: {frame.problem}; the frame was not processed",
                                              "framing"), frame)
            return
        findings = [self._skipped(frame.skipped)] if frame.skipped else []
        if frame.problem:
            findings.append(Finding(WARNING, "", "MLLP: end block 0x1C not followed by CR 0x0D", "framing"))
        meta: dict[str, Any] = {"connection": self.number, "frame": self.frames}
        self.busy = True
        outcome: _Outcome | None = None
        try:
            payload = frame.payload
            if not payload.startswith(b"MSH") and payload.lstrip(b"\r\n\t ")[:3] in (b"FHS", b"BHS"):
                outcome = await self._batch(frame.payload, meta, findings)
            else:
                outcome = await self.server.process(frame.payload, self.peer, meta, findings)
                self.server.settle(outcome)
            if outcome.fault is None and outcome.payloads:  # the common case, with no coroutine of its own
                wire = _framed(outcome.payloads)
                self.server.finish(outcome, wire, started)
                self._write(wire)
                if not self.closed and self.transport.get_write_buffer_size() > WRITE_HIGH_WATER:
                    await self._drain()
            else:
                await self._send(outcome, started, more)
        finally:
            if outcome is not None:
                outcome.resolve()
            self.busy = False
            self.last = self.loop.time()

    async def _send(self, outcome: _Outcome, started: float, more: bool) -> None:
        """Put the outcome's payloads on the wire as its fault says; journal it first."""
        server = self.server
        fault = outcome.fault
        kind = fault.kind if fault is not None else ""
        wire = _framed(outcome.payloads)
        if kind in ("no_reply", "reset") or not wire:
            server.finish(outcome, None, started)
            if kind == "reset":
                self._reset()
            elif kind == "no_reply" and fault is not None and fault.delay_s:
                self.loop.call_later(min(fault.delay_s, NO_REPLY_CAP_S), self.close)
            return
        if kind == "garbage":
            noise = fault.message.encode("utf-8") if fault is not None and fault.message else GARBAGE
            wire = noise.replace(SB, b"").replace(EB, b"") + wire
        if kind == "late_ack" and fault is not None and fault.delay_s:
            await wait_at_least(fault.delay_s)
            if self.closed:
                server.finish(outcome, None, started)
                return
        if kind == "duplicate_ack":
            server.finish(outcome, wire + wire, started)
            self._write(wire)
            await asyncio.sleep(0)
            self._write(wire)
        elif kind == "split_frames":
            server.finish(outcome, wire, started)
            await self._split(wire, fault)
        else:
            server.finish(outcome, wire, started)
            if kind == "merged_frames" and more:
                self.held += wire
            else:
                self._write(wire)
        await self._drain()

    async def _split(self, wire: bytes, fault: Fault | None) -> None:
        """Write the reply in pieces, cut after the start block, mid-message and between 0x1C and 0x0D."""
        gap = fault.delay_s if fault is not None and fault.delay_s else self.server.config.split_gap_s
        end = wire.rfind(END)
        cuts = sorted({1, end // 2, end + 1} - {0, len(wire)}) if end > 3 else [len(wire) // 2]
        bounds = [0, *cuts, len(wire)]
        for index in range(len(bounds) - 1):
            if index:
                await asyncio.sleep(gap)
            if self.closed:
                return
            self._write(wire[bounds[index] : bounds[index + 1]])

    async def _oversized(self, frame: Frame, started: float) -> None:
        """Refuse a frame over the limit: AR/CR with ERR 100 when its MSH can be read, then close."""
        server = self.server
        head = bytes(self.head)
        cut = [i for i in (head.find(b"\r"), head.find(b"\n")) if i >= 0]
        line = head[: min(cut)] if cut else head
        problem = Finding(ERROR, "", f"MLLP: frame larger than the limit of {server.config.max_frame} bytes; refused",
                          "framing")
        meta = {"connection": self.number, "frame": self.frames, "oversized": True, "limit": server.config.max_frame}
        exchange = MllpExchange(server.handler.interface, "mllp", None, head, peer=self.peer, meta=meta)
        exchange.request_findings = [problem] + ([self._skipped(frame.skipped)] if frame.skipped else [])
        outcome = _Outcome(exchange, [], server.config.charset.default)
        if line.startswith(b"MSH"):
            decoded = decode_message(line, server.config.charset)
            msg = parse(decoded.text, decoded.charset)
            if _is_hl7(msg):
                exchange.message = msg
                exchange.operation = server.handler.identify(msg) or msg.message_type or None
                outcome.charset = decoded.charset
                outcome.declared, outcome.plan = bool(decoded.declared), plan(server.config.ack_mode, msg)
                if is_ack(msg):
                    pass  # never answered, not even a refusal
                elif not outcome.enhanced or outcome.plan.sends_accept(False):
                    outcome.acks = [server._ack(outcome, "CR" if outcome.enhanced else "AR", [problem])]
                elif outcome.plan.sends_application(False):
                    outcome.acks = [server._ack(outcome, "AR", [problem])]
        server.settle(outcome)
        wire = _framed(outcome.payloads)
        server.finish(outcome, wire or None, started)
        self._write(wire)
        with contextlib.suppress(Exception):
            if self.transport.can_write_eof():
                self.transport.write_eof()
        # Read on (dropping it) what the peer still sends, for at most a second, so that it reads the refusal
        # before the connection goes: closing on unread data would reset the connection.
        self._discarding = True
        self._end_due = False
        self.loop.call_later(1.0, self.close)

    async def _batch(self, payload: bytes, meta: dict[str, Any], findings: list[Finding]) -> _Outcome:
        """An FHS/BHS batch: each message processed and acknowledged (journaled one by one), one batch ACK back."""
        server = self.server
        capture = split_capture(payload, server.config.max_frame)
        whole = decode_message(payload, server.config.charset)  # by the first message's MSH-18
        envelope_msg = parse(whole.text, whole.charset)
        envelope = [seg for seg in envelope_msg.segments if seg.name in ("FHS", "BHS")][:2]
        fault = server.take_fault("BATCH")
        outer = MllpExchange(server.handler.interface, "mllp", "BATCH", payload, peer=self.peer,
                             meta=dict(meta, batch=True, messages=len(capture.messages)))
        outer.message = envelope_msg
        outer.request_findings = findings + capture.findings
        outer.fault = fault.kind if fault is not None else None
        outer.request = {"envelope": [seg.name for seg in envelope], "messages": len(capture.messages)}
        acks: list[Message] = []
        charset = ""
        answered = 0
        if fault is not None and fault.kind == "latency" and fault.delay_s:
            await wait_at_least(fault.delay_s)  # once for the batch, not per message
        for number, raw in enumerate(capture.messages, 1):
            inner_started = time.perf_counter()
            inner = await server.process(raw, self.peer, dict(meta, batch_message=number), [], in_batch=True,
                                         fault=fault)
            server.settle(inner, wire_faults=False)
            server.finish(inner, b"".join(inner.payloads) or None, inner_started)
            acks.extend(inner.acks)
            message = inner.exchange.message
            answered += not (message is not None and _is_hl7(message) and is_ack(message))
            charset = charset or inner.charset
        outcome = _Outcome(outer, acks, charset or server.config.charset.default, fault)
        if capture.messages and not answered:  # a batch of acknowledgements: journaled, never acknowledged
            outer.request_findings.append(Finding(WARNING, "", "a batch of acknowledgements arrived as messages: "
                                                  "journaled, not answered", "ack"))
            return outcome
        text = server.acks.batch(envelope, acks, envelope_msg.seps)
        outcome.genuine = outcome.payloads = [encode(text, outcome.charset)]
        if fault is not None and fault.kind == "malformed":
            outcome.payloads = [outcome.payloads[0][: len(outcome.payloads[0]) // 2]]
        return outcome
