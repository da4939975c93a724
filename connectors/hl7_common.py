"""The hospital side of an HL7 v2 interface, shared by the LIS and PACS reference connectors.

Sending: each message goes out on one kept MLLP connection and its ACK is checked. AA is success; AE/AR raise
`AckRejected` with the ERR codes; an ACK whose MSA-2 is not the MSH-10 sent raises `WrongAck` (never taken as
success); no ACK in time, or a lost connection, is retried with the very same bytes (same MSH-10, so a receiver
that detects duplicates does not act twice) and raises `NoAck` when every attempt failed.

Receiving: a listener (`MllpListener`) validates each incoming message against the contract. A valid one is
written to SQLite (WAL, committed) before its AA goes back; an invalid one is answered AE or AR with ERR segments
and not stored; a message whose sender and MSH-10 are already stored is answered with the ACK it got the first
time and not stored again. `stored()` reads the SQLite file afresh, so it shows what would survive a crash.
Messages that several connections deliver at the same moment are stored in one transaction (group commit), and
their ACKs go back once it has committed.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from connectors.sequence import ClockSequence
from connectors.sqlite_wal import open_wal
from harness.contract.findings import Finding, Severity
from harness.contract.hl7.batch import split_capture
from harness.contract.hl7.charsets import codec, encode_message
from harness.contract.hl7.contract import HL7Validator, settings
from harness.contract.hl7.escape import DEFAULT, escape
from harness.contract.hl7.message import Message, parse
from harness.contract.hl7.mllp_ack import AckBuilder, ack_code
from harness.contract.hl7.mllp_client import (
    Ack,
    AckMismatch,
    AckTimeout,
    ConnectionLost,
    MalformedAck,
    MllpSyncClient,
)
from harness.contract.hl7.mllp_listener import MllpListener
from harness.contract.loader import load_contract
from harness.ports.hl7 import AckRejected, Delivery, Hl7Settings, NoAck, StoredMessage, WrongAck

ERROR = Severity.ERROR
SCHEMA = """CREATE TABLE IF NOT EXISTS received (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    sender TEXT NOT NULL, control_id TEXT NOT NULL, message_type TEXT NOT NULL,
    placer_no TEXT, filler_no TEXT, status TEXT, patient_name TEXT, charset TEXT,
    critical TEXT, observations TEXT, raw BLOB NOT NULL, ack BLOB NOT NULL, stored_at REAL NOT NULL,
    UNIQUE (sender, control_id))"""


def esc(value: str) -> str:
    """User data made safe for an ER7 field (a `^` or `|` in a name must not split it)."""
    return escape(value, DEFAULT)


class MessageStore:
    """Received messages in a SQLite file (WAL); each insert is committed before the caller acknowledges.

    `add` commits at once, except inside `batch()`, whose inserts are committed together when the block ends.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._batch = False
        self._db = open_wal(path, (SCHEMA,))

    def ack_of(self, sender: str, control_id: str) -> bytes | None:
        """The ACK a stored message got, or None when no message of this sender and MSH-10 is stored."""
        with self._lock:
            row = self._db.execute("SELECT ack FROM received WHERE sender = ? AND control_id = ?",
                                   (sender, control_id)).fetchone()
        return bytes(row[0]) if row else None

    def add(self, record: dict[str, Any], raw: bytes, ack: bytes) -> None:
        with self._lock:
            if self._batch:  # one statement: if it fails, the batch's other rows stay
                self._insert(record, raw, ack)
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._insert(record, raw, ack)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _insert(self, record: dict[str, Any], raw: bytes, ack: bytes) -> None:
        self._db.execute(
            "INSERT INTO received (sender, control_id, message_type, placer_no, filler_no, status, "
            "patient_name, charset, critical, observations, raw, ack, stored_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (record["sender"], record["control_id"], record["message_type"], record["placer_no"],
             record["filler_no"], record["status"], record["patient_name"], record["charset"],
             json.dumps(record["critical"], ensure_ascii=False),
             json.dumps(record["observations"], ensure_ascii=False), raw, ack, time.time()))

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """One transaction for every `add` in the block (this thread's; others wait): committed when the block
        ends, rolled back if it raises; raises if the commit fails (then nothing of the block is stored)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._batch = True
            try:
                yield
                if not self._db.in_transaction:  # SQLite rolled it back after an error: the rows are not all there
                    raise sqlite3.OperationalError("the batch's transaction was rolled back")
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            finally:
                self._batch = False

    def close(self) -> None:
        with self._lock:
            self._db.close()


def read_stored(path: Path, message_type: str | None = None) -> list[StoredMessage]:
    """What the store file holds, oldest first, read on a connection of its own (what survives the process)."""
    if not path.exists():
        return []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT control_id, sender, message_type, placer_no, filler_no, status, patient_name, "
                          "charset, critical, observations, ack FROM received ORDER BY seq").fetchall()
    finally:
        db.close()
    out = []
    for control, sender, mtype, placer, filler, status, name, charset, critical, observations, ack in rows:
        if message_type is not None and mtype != message_type:
            continue
        ack_msg = parse(bytes(ack).decode(codec(charset or "UNICODE UTF-8"), errors="replace"))
        out.append(StoredMessage(control, sender, mtype, placer or "", filler or "", status or "", name or "",
                                 charset or "", tuple(json.loads(critical or "[]")),
                                 tuple(tuple(o) for o in json.loads(observations or "[]")), ack_msg.get("MSA-1")))
    return out


class Hl7Connector:
    """Sending with ACK checks and safe resends; a listener that stores before it acknowledges."""

    interface = ""
    receives: tuple[str, ...] = ()
    """Message keys the listener takes (ORU^R01 ...); any other valid message is rejected AR (ERR 200)."""
    critical_flags: frozenset[str] = frozenset({"HH", "LL"})

    def __init__(self, settings_: Hl7Settings) -> None:
        self.settings = settings_
        self.contract = load_contract(Path(settings_.contract_folder))
        self.validator = HL7Validator(self.contract)
        self.hl7 = settings(self.contract)
        self.version = self.hl7.versions[-1] if self.hl7.versions else "2.5.1"
        self.charset = self.hl7.charset.default
        self.client = MllpSyncClient(settings_.host, settings_.port, timeout=settings_.timeout_s,
                                     connect_timeout=max(settings_.timeout_s, 1.0), charset=self.charset)
        self.acks = AckBuilder(settings_.sending_application, settings_.sending_facility, self.version,
                               id_prefix="H")
        self._tmp: str | None = None
        if settings_.store_path:
            path = Path(settings_.store_path)
        else:
            self._tmp = tempfile.mkdtemp(prefix=f"hih-{self.interface}-")
            path = Path(self._tmp) / "received.sqlite"
        self.store_path = path
        self.store = MessageStore(path)
        self._sequence = 0
        self._control_ids = ClockSequence("%y%m%d%H%M%S", 6)
        self._listener = MllpListener(self.receive, settings_.listen_host, settings_.listen_port,
                                      max_frame=self.hl7.max_frame_bytes, handle_batch=self.receive_many)
        self._listener.start()

    # -- identifiers ------------------------------------------------------------------------------------
    def new_control_id(self) -> str:
        """MSH-10: H + YYMMDDHHMMSS + a 6-digit sequence (19 characters), unique across restarts
        (`connectors.sequence`): a partner would take a repeated MSH-10 for a duplicate and drop the message."""
        second, seq = self._control_ids.next()
        return f"H{second}{seq:06d}"

    # -- sending ----------------------------------------------------------------------------------------
    def send(self, text: str, charset: str | None = None) -> Ack:
        """Send one message (or a batch), resending the same bytes after a timeout or a lost connection.

        Returns the positive ACK; raises AckRejected, WrongAck or NoAck.
        """
        charset = charset or self.charset
        payload = encode_message(text, charset)
        control = parse(text).control_id or ",".join(
            line.split("|")[9] for line in text.split("\r") if line.startswith("MSH|"))
        attempts = 1 + max(self.settings.retries, 0)
        reason = ""
        for attempt in range(1, attempts + 1):
            try:
                ack = self.client.send(payload, retries=0)
            except AckMismatch as exc:
                raise WrongAck(control, exc.got, str(exc)) from None
            except MalformedAck as exc:
                raise WrongAck(control, "", f"{control}: the answer is no acknowledgement: {exc}") from None
            except (AckTimeout, ConnectionLost) as exc:
                reason = str(exc)
                continue
            ack.attempts = attempt
            codes = [code for code in self._codes(ack) if code not in ("AA", "CA")]
            if codes:
                raise AckRejected(control, codes[0], ack.errors, ack.message.get("MSA-3") if ack.message else "")
            return ack
        raise NoAck(control, reason, attempts)

    @staticmethod
    def _codes(ack: Ack) -> list[str]:
        """MSA-1 of every acknowledgement in the answer (a batch ACK holds one MSA per message)."""
        return [seg.field(1) for msg in ack.acks for seg in msg.all("MSA")]

    def delivery(self, ack: Ack, message_type: str) -> Delivery:
        return Delivery(ack.control_id, ack.code, ack.attempts, message_type)

    # -- receiving --------------------------------------------------------------------------------------
    def listener(self) -> tuple[str, int]:
        return self._listener.address

    def receive(self, payload: bytes) -> list[bytes]:
        """One frame from the partner: a message or a batch; the ACK payloads to send back."""
        if payload.lstrip(b"\r\n\t ")[:3] in (b"FHS", b"BHS"):
            return [self._batch(payload)]
        ack, charset = self._receive_one(payload)
        return [] if ack is None else [encode_message(ack.to_er7(), charset)]

    def receive_many(self, payloads: list[bytes]) -> list[list[bytes] | Exception]:
        """Frames from several connections at once: each as `receive` takes it, what they store committed in one
        transaction before any answer is handed back (a duplicate of an earlier frame of the same batch is seen
        as one: the transaction's own rows are visible to it). A frame whose handling raised gets its exception."""
        if len(payloads) == 1:
            try:
                return [self.receive(payloads[0])]
            except Exception as exc:  # noqa: BLE001 - the listener closes that connection
                return [exc]
        results: list[list[bytes] | Exception] = []
        with self.store.batch():
            for payload in payloads:
                try:
                    results.append(self.receive(payload))
                except Exception as exc:  # noqa: BLE001 - as above; the others are still answered
                    results.append(exc)
        return results

    def _batch(self, payload: bytes) -> bytes:
        capture = split_capture(payload, self.hl7.max_frame_bytes)
        whole = self.validator.decode(payload)
        envelope = [seg for seg in whole.segments if seg.name in ("FHS", "BHS")][:2]
        acks = [ack for ack, _ in map(self._receive_one, capture.messages) if ack is not None]
        charset = whole.charset or self.charset
        return encode_message(self.acks.batch(envelope, acks, whole.seps), charset)

    def _receive_one(self, raw: bytes) -> tuple[Message | None, str]:
        """The ACK for one incoming message; None for an acknowledgement, which is never acknowledged (an ACK
        answering an ACK would bounce between the two systems)."""
        msg = self.validator.decode(raw)
        charset = msg.charset or self.charset
        if msg.segments and msg.segments[0].name == "MSH" and msg.message_type.split("^")[0] == "ACK":
            return None, charset
        if not msg.segments or msg.segments[0].name != "MSH":
            problems = [f for f in msg.findings if f.severity is ERROR] or [
                Finding(ERROR, "", "not an HL7 v2 message", "parse")]
            return self.acks.ack(None, "AR", problems, charset=charset, declared=True), charset
        if not msg.control_id.strip():
            return self._ack(msg, "AR", [Finding(ERROR, "MSH-10", "required field MSH-10 is empty", "usage")]), charset
        sender = "^".join(msg.sender)
        original = self.store.ack_of(sender, msg.control_id)
        if original is not None:
            return parse(original.decode(codec(charset), errors="replace")), charset  # a duplicate: not stored again
        key, findings = self.validator.check_message(msg, "to_hospital")
        findings = msg.findings + findings
        if key is not None and key not in self.receives and not any(f.severity is ERROR for f in findings):
            findings.append(Finding(ERROR, "MSH-9", f"{key} is not received here (takes: {', '.join(self.receives)})",
                                    "message_type"))
        code = ack_code(findings)
        if code != "AA":
            return self._ack(msg, code, [f for f in findings if f.severity is ERROR]), charset
        ack = self._ack(msg, "AA", [])
        ack_bytes = encode_message(ack.to_er7(), charset)
        self.keep(msg, key or msg.message_type, raw, ack_bytes)  # committed before the ACK leaves
        return ack, charset

    def _ack(self, msg: Message, code: str, errors: Iterable[Finding]) -> Message:
        return self.acks.ack(msg, code, list(errors), charset=msg.charset or self.charset, declared=True)

    def record(self, msg: Message, key: str) -> dict[str, Any]:
        """What is kept of a valid incoming message."""
        observations = []
        critical = []
        for obx in msg.all("OBX"):
            code, value, flag = msg.get_in(obx, "OBX-3.1"), msg.get_in(obx, "OBX-5"), msg.get_in(obx, "OBX-8")
            observations.append([code, value])
            if flag in self.critical_flags:
                critical.append(f"{code}={value} {flag}")
        status = msg.get("ORC-5") if key == "OMG^O19" else msg.get("OBR-25")
        return {"sender": "^".join(msg.sender), "control_id": msg.control_id, "message_type": key,
                "placer_no": msg.get("OBR-2.1") or msg.get("ORC-2.1"),
                "filler_no": msg.get("OBR-3.1") or msg.get("ORC-3.1"), "status": status,
                "patient_name": msg.get("PID-5.1") + msg.get("PID-5.2"), "charset": msg.charset or self.charset,
                "critical": critical, "observations": observations}

    def keep(self, msg: Message, key: str, raw: bytes, ack: bytes) -> None:
        """Store the message durably (the ACK is sent only after this returns)."""
        self.store.add(self.record(msg, key), raw, ack)

    def stored(self, message_type: str | None = None) -> list[StoredMessage]:
        return read_stored(self.store_path, message_type)

    # -- life cycle -------------------------------------------------------------------------------------
    def close(self) -> None:
        self._listener.close()
        self.client.close()
        self.store.close()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
