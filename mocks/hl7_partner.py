"""What the mock LIS and the mock PACS share: serving MLLP from a contract, keeping patients and orders, and pushing
results, reports and status updates to the hospital's listener with the hospital's ACK checked and journaled.

A partner subclass gives `process(message, key, exchange, code)` (act on a valid message it received; return a
`Reply` or None for the ACK the findings earn) and builds the messages it sends. Every push is one outbound
exchange in the journal: the message sent (validated against the contract, `to_hospital`), the ACK that came
back (checked against the message: MSA-2, swapped sender and receiver, MSA-1 of the original mode, and validated
against the ACK profile), or the lack of one.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.contract.findings import Finding, Severity
from harness.contract.hl7.ack import ack_problems
from harness.contract.hl7.charsets import encode_message
from harness.contract.hl7.contract import HL7Validator, settings
from harness.contract.hl7.escape import DEFAULT, Separators, escape, unescape
from harness.contract.hl7.message import Message, Segment, parse
from harness.contract.hl7.mllp_ack import summary
from harness.contract.hl7.mllp_client import MllpError, MllpSyncClient
from harness.contract.model import Contract
from mocks.base import Endpoint, MockService
from mocks.clock_checks import hl7_stamps
from mocks.hl7_clock import PartnerClock
from mocks.lazy_logs import LazyLogStore
from mocks.state import Store
from mocks.transport.mllp import ContractHandler, MllpConfig, MllpExchange, MllpServer, Reply
from mocks.transport.refusal import Refusal
from mocks.transport.runtime import Runtime

ERROR = Severity.ERROR
Address = tuple[str, int]
EVENTS_KEPT = 50
"""Messages remembered per patient (their keys, newest last): enough for specs, bounded for a long-running mock."""
EVENTS = "patient_events"
"""The table of each patient's events, apart from the patient's fields (`Hl7PartnerMock._keep_patient`)."""
_UNSET = object()


Runs = tuple[tuple[str, int], ...]
"""A patient's events as runs `(event, count)`, oldest first: tuples of strings and numbers, which the garbage
collector stops walking (a busy LIS keeps tens of thousands of patients); a JSON store gives them back as lists."""


def with_event(runs: Runs | list[Any], event: str) -> Runs | None:
    """`runs` (at most EVENTS_KEPT events in all) after `event`, the oldest going past EVENTS_KEPT; None when that is
    what `runs` already holds (a patient whose last EVENTS_KEPT messages were all `event`)."""
    total = 0
    for run in runs:
        total += run[1]
    if runs and runs[-1][0] == event:
        if total >= EVENTS_KEPT and len(runs) == 1:
            return None
        after = [(run[0], run[1]) for run in runs[:-1]]
        after.append((event, runs[-1][1] + 1))
    else:
        after = [(run[0], run[1]) for run in runs]
        after.append((event, 1))
    total += 1
    while total > EVENTS_KEPT:  # the oldest go first
        first, count = after[0]
        drop = min(count, total - EVENTS_KEPT)
        total -= drop
        if drop == count:
            del after[0]
        else:
            after[0] = (first, count - drop)
    return tuple(after)


def runs_of(events: list[str] | tuple[str, ...]) -> Runs:
    """Events (oldest first) as `with_event`'s runs."""
    runs: list[tuple[str, int]] = []
    for event in events:
        if runs and runs[-1][0] == event:
            runs[-1] = (event, runs[-1][1] + 1)
        else:
            runs.append((event, 1))
    return tuple(runs)


def events_of(runs: Runs | list[Any]) -> list[str]:
    """The events (oldest first) runs hold."""
    return [event for event, count in runs for _ in range(count)]


def esc(value: str) -> str:
    """A value escaped for ER7 with the default separators."""
    return escape(value, DEFAULT)


def er7(*segments: str) -> str:
    return "\r".join(segments) + "\r"


_STAMP: list[Any] = [-1, ""]


def now_ts() -> str:
    """Local time as YYYYMMDDHHMMSS, formatted once a second (a busy mock stamps several fields per message)."""
    second = int(time.time())
    stamp = _STAMP
    if stamp[0] != second:
        _STAMP[:] = stamp = [second, time.strftime("%Y%m%d%H%M%S", time.localtime(second))]
    text: str = stamp[1]
    return text


def components(seg: Segment | None, n: int, seps: Separators) -> list[str]:
    """The components of field `n`'s first repetition in `seg` (not MSH), as written: `[""]` when absent. With
    `part`, what `Message.get_in` gives for `SEG-n.k`, for a reader taking several components of one field."""
    if seg is None:
        return [""]
    fields = seg.fields
    value = fields[n] if n < len(fields) else ""
    if seps.repetition in value:
        value = value.split(seps.repetition, 1)[0]
    return value.split(seps.component) if seps.component in value else [value]


def part(comps: list[str], k: int, seps: Separators) -> str:
    """Component `k` (1-based) of `components(...)`, escape sequences decoded; "" when absent."""
    value = comps[k - 1] if k <= len(comps) else ""
    return unescape(value, seps) if seps.escape in value else value


def whole(seg: Segment | None, n: int, seps: Separators) -> str:
    """Field `n`'s first repetition in `seg` (not MSH), escape sequences decoded: `Message.get_in` for `SEG-n`."""
    if seg is None:
        return ""
    fields = seg.fields
    value = fields[n] if n < len(fields) else ""
    if seps.repetition in value:
        value = value.split(seps.repetition, 1)[0]
    return unescape(value, seps) if seps.escape in value else value


PATIENTS_KEPT = 256
"""Patients remembered by their PID and PV1 text (`patient_of`), forgotten all at once past this."""
_PATIENTS: dict[tuple[Any, ...], dict[str, str]] = {}


def patient_of(msg: Message, firsts: dict[str, Segment] | None = None) -> dict[str, str]:
    """The patient a message's PID describes: MRN, name, ID card number, sex, birth date (and PV1 class, visit).

    `firsts`: `msg.firsts()` when the caller has it already. A patient's orders come one after another with the same
    PID and PV1: what was read from those texts (under the same delimiters) is remembered, and a new dict of it given
    each time (callers keep or change it)."""
    first = firsts if firsts is not None else msg.firsts()
    pid, pv1 = first.get("PID"), first.get("PV1")
    seps = msg.seps
    fs = seps.field
    texts = (fs.join(pid.fields) if pid is not None else "", fs.join(pv1.fields) if pv1 is not None else "")
    key = texts if seps is DEFAULT else (*texts, seps)  # the usual delimiters: no dataclass hash on the way
    known = _PATIENTS.get(key)
    if known is None:
        known = read_patient(pid, pv1, seps)
        if len(_PATIENTS) >= PATIENTS_KEPT:
            _PATIENTS.clear()
        _PATIENTS[key] = known
    return dict(known)


def read_patient(pid: Segment | None, pv1: Segment | None, seps: Separators) -> dict[str, str]:
    """`patient_of` read afresh from the segments."""
    mrn = id_card = ""
    ids = pid.field(3) if pid is not None else ""
    for rep in ids.split(seps.repetition) if ids else ():  # PID-3(n).5 the kind of identifier, PID-3(n).1 the number
        comps = rep.split(seps.component)
        kind = unescape(comps[4], seps) if len(comps) > 4 else ""
        if kind == "NNCHN":
            id_card = id_card or unescape(comps[0], seps)
        elif not mrn:
            mrn = unescape(comps[0], seps)
    name = components(pid, 5, seps)
    return {"mrn": mrn, "name": part(name, 1, seps) + part(name, 2, seps),
            "id_card": id_card or whole(pid, 19, seps), "sex": whole(pid, 8, seps),
            "birth_date": part(components(pid, 7, seps), 1, seps), "patient_class": whole(pv1, 2, seps) or "O",
            "visit_no": part(components(pv1, 19, seps), 1, seps)}


def pid_segment(patient: dict[str, Any], version: str) -> str:
    """PID for a message to the hospital: MRN (and the ID card number in PID-3 for v2.5.1, PID-19 for v2.4)."""
    return "|".join(pid_fields(patient, version))


def pid_fields(patient: dict[str, Any], version: str) -> list[str]:
    """`pid_segment`'s fields (`Segment.fields` of it), for a reply built as segments."""
    ids = f"{esc(patient.get('mrn', ''))}^^^HOSP^MR"
    card = patient.get("id_card", "")
    if card and version != "2.4":
        ids += f"~{esc(card)}^^^CHN^NNCHN"
    fields = ["PID", "1", "", ids, "", esc(patient.get("name", "")), "", patient.get("birth_date", ""),
              patient.get("sex", "") or "U"]
    if card and version == "2.4":
        fields += [""] * 10 + [esc(card)]
    return fields


@dataclass
class Push:
    """One message the mock sent to the hospital and what came back."""

    control_id: str
    message_type: str
    code: str = ""
    """MSA-1 of the hospital's ACK; "" when none came."""
    errors: list[str] = field(default_factory=list)
    """ERR codes (Table 0357) of the ACK."""
    problem: str = ""
    """Why no usable ACK came (timeout, connection refused ...)."""
    exchange: MllpExchange | None = None


class _Behaviour(ContractHandler):
    """The contract handler the transport calls; valid messages go to the partner's `process`."""

    def __init__(self, mock: Hl7PartnerMock, contract: Contract) -> None:
        super().__init__(contract, "from_hospital")
        self.mock = mock
        self.clock = PartnerClock()

    async def process(self, message: Message, key: str | None, exchange: MllpExchange, code: str) -> Reply | None:
        reply = self.mock.store.atomic(lambda: self.mock.process(message, key, exchange, code))
        if reply is None:  # decided before the clock is read: a skewed MSH-7 is the journal's finding, not an AE
            reply = Reply(code, [f for f in exchange.request_findings if f.severity is ERROR])
        skewed = self.clock.findings(self.mock.contract, key, message, self.mock.clock())
        if skewed:
            exchange.request_findings.extend(skewed)
        return reply


class Hl7PartnerMock(MockService):
    """Base of the MLLP partner mocks (LIS, PACS)."""

    transport = "mllp"
    shares_state = True
    auto_workers = 1
    """`--workers auto` serves an MLLP partner from one process unless its class says two won (the LIS does; PACS
    keeps state outside its store and is served by one process anyway)."""
    shared_store = LazyLogStore
    """With `--workers`: orders and patients are written whole by one handler at a time and need no transaction
    checked against the other workers', so each worker appends its writes to a log of its own and reads the others'
    (`mocks.shared_logs`): no lock across the processes on an order's path. The others' rows stay bytes until read
    (`mocks.lazy_logs`): an order is decoded by a worker only when it looks that order up."""
    growing = {"orders": lambda order: order.get("status") in ("final", "corrected", "cancelled"),
               "patients": None, EVENTS: None}
    application = ("HIH", "HIH")
    """MSH-3/4 of what this partner sends."""
    id_prefix = "HIH"

    def __init__(self, contract: Contract, store: Store | None = None, journal_capacity: int = 10_000) -> None:
        self.validator = HL7Validator(contract)
        contract.extra["hl7_validator"] = self.validator
        self.hl7 = settings(contract)
        self.version = self.hl7.versions[-1] if self.hl7.versions else "2.5.1"
        self.charset = self.hl7.charset.default
        self.config = MllpConfig.from_contract(contract, application=self.application[0],
                                               facility=self.application[1])
        self.server = MllpServer(_Behaviour(self, contract), None, None, self.config)
        self.push_timeout_s = 5.0
        self.last_sent = ""
        """The ER7 text of the last message pushed (specs send it again to test duplicate handling)."""
        self.hospital: Address | None = None
        """Where results go when a push names no address (`hih mock serve --push`, or a step)."""
        self._clients: dict[Address, MllpSyncClient] = {}
        self._push_lock = threading.RLock()
        self._sequence = itertools.count(1)
        self._timer: threading.Thread | None = None
        self._stop = threading.Event()
        super().__init__(contract, store, journal_capacity)
        self.server.journal = self.journal
        self.server.faults = self.faults

    # -- serving ----------------------------------------------------------------------------------------
    def start(self, runtime: Runtime, host: str = "127.0.0.1", port: int = 0) -> Endpoint:
        self.validator.warm()  # the first message is answered as fast as the next (see ProfileValidator.warm)
        listener = self.server.start(runtime, host, port, self.reuse_port)
        self._listener = listener
        Refusal.watch(runtime, listener, self.faults, self.reuse_port)
        shown = f"[{host}]" if ":" in host else host
        self.endpoint = Endpoint(self.interface, host, listener.port, f"mllp://{shown}:{listener.port}")
        return self.endpoint

    def share(self, index: int, workers: int, state: Path) -> None:
        self._sequence = itertools.count(index + 1, workers)

    def reset(self) -> None:
        super().reset()
        self.server.clear()
        self.push_timeout_s = 5.0
        self.hospital = None
        self._drop_clients()

    def process(self, message: Message, key: str | None, exchange: MllpExchange, code: str) -> Reply | None:
        """Act on a message received from the hospital; None: acknowledge by the findings."""
        return None

    def accepts(self) -> dict[str, str]:
        """MLLP has no login: what it accepts is the versions, character sets and messages of its contract."""
        takes = [k for k, op in self.contract.operations.items() if op.extra.get("direction") in ("from_hospital", "both")]
        return {"login": "none (any MSH-3/MSH-4)", "versions": ", ".join(self.hl7.versions),
                "charsets": ", ".join(self.hl7.charset.accepted), "acknowledgement": self.hl7.ack_mode,
                "messages": ", ".join(takes)}

    def population_data(self) -> dict[str, Any]:
        """The patients and orders it holds (the newest 1,000 of each) and the codes it answers for."""
        from mocks.self_service import MAX_POPULATION_ROWS

        return {"interface": self.interface, "contract": self.contract.version,
                "application": {"MSH-3": self.application[0], "MSH-4": self.application[1]},
                "patients": self.patients()[-MAX_POPULATION_ROWS:], "orders": self.orders()[-MAX_POPULATION_ROWS:],
                **self.catalogue()}

    def catalogue(self) -> dict[str, Any]:
        """The tests or procedures this partner knows (subclasses)."""
        return {}

    # -- state helpers ----------------------------------------------------------------------------------
    def patients(self) -> list[dict[str, Any]]:
        """Every patient held, each with its events (`patient`)."""
        events = dict(self.store.items(EVENTS))
        return [self._with_events(mrn, v, events.get(mrn)) for mrn, v in self.store.items("patients")]

    def patient(self, mrn: str) -> dict[str, Any] | None:
        """The patient's fields and `events`, the keys of the messages that named them (newest last)."""
        value: dict[str, Any] | None = self.store.get("patients", mrn)
        return None if value is None else self._with_events(mrn, value, self.store.get(EVENTS, mrn))

    @staticmethod
    def _with_events(mrn: str, fields: dict[str, Any], runs: list[Any] | None) -> dict[str, Any]:
        """A patient as read: its fields and its events (a state written before the events were kept apart holds
        them in the patient's row)."""
        events = events_of(runs) if runs is not None else list(fields.pop("events", ()))
        fields.pop("events", None)
        return {"events": events, **fields}

    def orders(self, status: str | None = None) -> list[dict[str, Any]]:
        rows = [v for _, v in self.store.items("orders")]
        return [r for r in rows if status is None or r["status"] == status]

    def order(self, placer_no: str) -> dict[str, Any]:
        value: dict[str, Any] | None = self.store.get("orders", placer_no)
        if value is None:
            raise KeyError(f"the {self.interface} mock holds no order {placer_no!r} "
                           f"(it holds: {', '.join(sorted(k for k, _ in self.store.items('orders'))) or 'none'})")
        return value

    def _keep_patient(self, patient: dict[str, Any], event: str) -> None:
        """Note that a message `event` named `patient`: its non-empty fields over those held, and the event after
        the patient's others. The fields and the events are rows of their own, each put only when it changed: a
        patient's next order writes its events' runs (a few pairs), not the patient whole with 50 events, and
        nothing when its last 50 messages were all of this kind (with `--workers`, what an order logs and the
        other workers read)."""
        mrn = patient.get("mrn")
        if not mrn:
            return
        store = self.store
        known = store.peek("patients", mrn)  # read-only: a changed record is put anew
        runs = store.peek(EVENTS, mrn)
        if known is not None and runs is not None and "events" not in known and "events" not in patient:
            # the usual case: a patient held, sending what is held already; nothing to put but the event
            for k, v in patient.items():
                if v and known.get(k, _UNSET) != v:
                    break
            else:
                after = with_event(runs, event)
                if after is not None:
                    store.put(EVENTS, mrn, after)
                return
        fields = {**known, **{k: v for k, v in patient.items() if v}} if known is not None else \
            {k: v for k, v in patient.items() if v}
        if runs is None:
            runs = runs_of(fields.pop("events", ())) if known is not None else ()
        elif known is not None:
            fields.pop("events", None)
        if fields != known:
            store.put("patients", mrn, fields)
        after = with_event(runs, event)
        if after is not None:
            store.put(EVENTS, mrn, after)

    # -- pushing to the hospital ------------------------------------------------------------------------
    def new_control_id(self) -> str:
        """A fresh MSH-10: prefix + YYMMDDHHMMSS + sequence (at most 20 characters)."""
        return f"{self.id_prefix}{now_ts()[2:]}{next(self._sequence) % 10_000:04d}"

    def msh(self, kind: str, control: str, charset: str, version: str | None = None,
            receiver: tuple[str, str] = ("HIS", "HOSP")) -> str:
        version = version or self.version
        return "|".join(["MSH", "^~\\&", *self.application, *receiver, now_ts(), "", kind, control, "P", version,
                         "", "", "", "", "CHN", charset])

    def push(self, text: str, to: Address | None = None, charset: str | None = None,
             raw: bytes | None = None) -> Push:
        """Send one message (ER7 text, encoded by `charset`; or `raw` bytes as they are) to the hospital's listener,
        wait for its ACK and journal the exchange."""
        address = to or self.hospital
        if address is None:
            raise ValueError(f"the {self.interface} mock has no hospital listener to send to (give `to=`)")
        payload = raw if raw is not None else encode_message(text, charset or self.charset)
        msg = parse(text) if raw is None else self.validator.decode(raw)
        self.last_sent = text
        key, findings = self.validator.check_message(msg, "to_hospital")
        exchange = MllpExchange(self.interface, "mllp", key or msg.message_type or None, payload,
                                direction="outbound", peer=f"{address[0]}:{address[1]}",
                                charset=charset or self.charset)
        exchange.request_findings = msg.findings + findings
        exchange.request = {"message_type": msg.message_type, "control_id": msg.control_id,
                            "charset": charset or self.charset}
        result = Push(msg.control_id, msg.message_type, exchange=exchange)
        started = time.perf_counter()
        with self._push_lock:
            client = self._client(address)
            try:
                ack = client.send(payload, check=False, retries=0, timeout=self.push_timeout_s)
            except MllpError as exc:
                result.problem = str(exc)
                exchange.response_findings.append(Finding(ERROR, "", f"the hospital did not acknowledge "
                                                          f"{msg.control_id}: {exc}", "ack"))
                self._drop_clients(address)
            else:
                self._check_ack(ack.raw, msg, exchange, result)
        exchange.duration_ms = (time.perf_counter() - started) * 1000
        self.journal.record(exchange)
        exchange.forget_parsed()
        return result

    def push_batch(self, texts: list[str], to: Address | None = None, charset: str | None = None) -> Push:
        """Send messages in one FHS/BHS batch and check the batch acknowledgement: one MSA per message, each
        echoing its MSH-10. The Push's `code` is the first MSA-1 that is not AA (AA when all are)."""
        address = to or self.hospital
        if address is None:
            raise ValueError(f"the {self.interface} mock has no hospital listener to send to (give `to=`)")
        charset = charset or self.charset
        head = f"|^~\\&|{self.application[0]}|{self.application[1]}|HIS|HOSP|{now_ts()}||||{self.new_control_id()}"
        text = er7(f"FHS{head}", f"BHS{head}", *[m.rstrip("\r") for m in texts], f"BTS|{len(texts)}", "FTS|1")
        payload = encode_message(text, charset)
        messages = [parse(m) for m in texts]
        controls = [m.control_id for m in messages]
        exchange = MllpExchange(self.interface, "mllp", "BATCH", payload, direction="outbound",
                                peer=f"{address[0]}:{address[1]}", charset=charset)
        for number, msg in enumerate(messages, 1):
            _, found = self.validator.check_message(msg, "to_hospital")
            exchange.request_findings.extend(Finding(f.severity, f"MSG[{number}]/{f.location}", f.message, f.rule)
                                             for f in msg.findings + found)
        exchange.request = {"message_type": "BATCH", "control_ids": controls, "charset": charset}
        result = Push(",".join(controls), "BATCH", exchange=exchange)
        started = time.perf_counter()
        with self._push_lock:
            try:
                ack = self._client(address).send(payload, check=False, timeout=self.push_timeout_s)
            except MllpError as exc:
                result.problem = str(exc)
                exchange.response_findings.append(Finding(ERROR, "", f"the hospital did not acknowledge the batch: "
                                                          f"{exc}", "ack"))
                self._drop_clients(address)
            else:
                exchange.response_raw = ack.raw
                reply = self.validator.decode(ack.raw)
                answered = {seg.field(2): seg.field(1) for seg in reply.all("MSA")}
                for control in controls:
                    if control not in answered:
                        exchange.response_findings.append(Finding(
                            ERROR, "MSA-2", f"the batch acknowledgement has no MSA for MSH-10 {control!r}",
                            "correlation"))
                codes = [answered.get(c, "") for c in controls]
                result.code = next((c for c in codes if c != "AA"), "AA")
                exchange.response = {"code": result.code, "codes": codes}
        exchange.duration_ms = (time.perf_counter() - started) * 1000
        self.journal.record(exchange)
        return result

    def _check_ack(self, raw: bytes, sent: Message, exchange: MllpExchange, result: Push) -> None:
        exchange.response_raw = raw
        exchange.ack_payloads = [raw]
        ack = self.validator.decode(raw)
        problems = ack_problems(ack, sent) if ack.segments else [
            Finding(ERROR, "", "the hospital answered with bytes that are no HL7 message", "correlation")]
        _, ack_findings = self.validator.check_message(ack, None) if ack.segments else (None, [])
        stamps = hl7_stamps(self.contract, "ACK", ack, self.clock()) if ack.segments else []
        exchange.response_findings.extend(problems + ack.findings + ack_findings + stamps)
        if ack.segments and ack.segment("MSA") is not None:
            s = summary(ack)
            result.code, result.errors = s.code, s.errors
            exchange.response = {"code": s.code, "acks": [s.to_dict()]}

    def _client(self, address: Address) -> MllpSyncClient:
        client = self._clients.get(address)
        if client is None:
            client = MllpSyncClient(address[0], address[1], timeout=self.push_timeout_s, connect_timeout=2.0,
                                    charset=self.charset)
            self._clients[address] = client
        return client

    def _drop_clients(self, address: Address | None = None) -> None:
        with self._push_lock:
            for key in [address] if address is not None else list(self._clients):
                client = self._clients.pop(key, None) if key is not None else None
                if client is not None:
                    client.close()

    # -- pushing on a timer (hih mock serve --push) ------------------------------------------------------
    def next_push(self, to: Address) -> Push | None:
        """Send the next thing an order is due (a result, a report, a status); None when nothing is due."""
        return None

    def start_pushing(self, to: Address, every_s: float, announce: Callable[[str], None] | None = None) -> None:
        """Every `every_s` seconds, send the next due message to `to` (until `stop_pushing`)."""
        self.hospital = to
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(every_s):
                try:
                    pushed = self.next_push(to)
                except Exception as exc:  # noqa: BLE001 - a failed push is reported, the timer goes on
                    if announce:
                        announce(f"{self.interface}\tpush failed: {type(exc).__name__}: {exc}")
                    continue
                if pushed is not None and announce:
                    outcome = pushed.code or f"no ACK ({pushed.problem})"
                    announce(f"{self.interface}\tsent {pushed.message_type} {pushed.control_id} -> "
                             f"{to[0]}:{to[1]}: {outcome}")

        self._timer = threading.Thread(target=loop, name=f"hih-{self.interface}-push", daemon=True)
        self._timer.start()

    def stop_pushing(self) -> None:
        self._stop.set()
        if self._timer is not None:
            self._timer.join(5)
            self._timer = None
        self._drop_clients()
