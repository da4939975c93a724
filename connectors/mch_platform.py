"""Reference maternal-child platform connector (the hospital side) over zeep, with a SQLite outbox.

Records are built from the hospital's data in the order the record type's XSD gives, checked against that XSD and
the platform's rules before anything is sent, and go through an outbox: a record is written there (queued) before
it is sent, marked `sending` while on the wire and `done` with the platform's answer after. When a reply is lost
(timeout, reset, a broken or Server-faulted reply) or the process dies in between, the record is not sent again
blindly: the connector asks the platform for the record by type and number and compares the upload serial it
carries, so every record reaches the platform exactly once. An expired session (Client.Auth fault) is renewed by
logging in again and the call repeated once. Withdrawing a record voids what the outbox still holds for it (a
correction queued while the platform was away is `cancelled`, never sent): it must not land on a record that later
reuses the number.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests
import zeep
import zeep.exceptions
from lxml import etree
from zeep.transports import Transport

from connectors import zeep_documents
from connectors.http_session import ProxiesOnceSession
from connectors.sqlite_wal import immediate, open_wal
from harness.contract import xmlsafe
from harness.contract.findings import Severity
from harness.contract.loader import load_contract
from harness.contract.mch_rules import CORRECTION, deadlines, record_rules
from harness.contract.soap import spec_of
from harness.contract.soap_validate import SoapValidator
from harness.ports.mch_platform import (
    AuditResult,
    AuthFailed,
    Finding,
    HospitalRecord,
    InvalidRecord,
    MchError,
    MchSettings,
    RecordError,
    Refused,
    Session,
    Unavailable,
    UploadResult,
)

XS = "{http://www.w3.org/2001/XMLSchema}"
BATCH_LIMIT = 100
ATTEMPTS = 3
NEW = "1"
SERVICE_NS = "urn:hih:mch:service"


class _Lost(Exception):
    """No usable reply: the request may or may not have been processed."""


# -- building records from the XSD ------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Field:
    name: str
    repeated: bool
    children: tuple[_Field, ...] | None


def _fields(element: etree._Element) -> tuple[_Field, ...]:
    sequence = element.find(f"{XS}complexType/{XS}sequence")
    if sequence is None:
        return ()
    out = []
    for child in sequence.findall(f"{XS}element"):
        nested = _fields(child) if child.find(f"{XS}complexType") is not None else None
        out.append(_Field(child.get("name", ""), child.get("maxOccurs", "1") != "1", nested))
    return tuple(out)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date | Decimal | int | float):
        return value.isoformat() if isinstance(value, date) else str(value)
    return str(value)


def _fill(parent: etree._Element, ns: str, fields: Iterable[_Field], data: dict[str, Any]) -> None:
    for f in fields:
        value = data.get(f.name)
        if value is None:
            continue
        for item in (value if f.repeated and isinstance(value, list) else [value]):
            element = etree.SubElement(parent, f"{{{ns}}}{f.name}")
            if f.children is not None and isinstance(item, dict):
                _fill(element, ns, f.children, item)
            else:
                element.text = _text(item)


# -- the outbox -----------------------------------------------------------------------------------------------
@dataclass
class OutboxRow:
    serial: str
    record_type: str
    record_no: str
    payload: str
    state: str
    result: dict[str, Any] | None
    attempts: int


OUTBOX_SCHEMA = (("CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, serial TEXT UNIQUE "
                  "NOT NULL, record_type TEXT NOT NULL, record_no TEXT NOT NULL, payload TEXT NOT NULL, state TEXT "
                  "NOT NULL, result TEXT, attempts INTEGER NOT NULL DEFAULT 0, updated REAL NOT NULL)"),)


class Outbox:
    """Records on their way to the platform, in SQLite (WAL): queued -> sending -> done (with the answer), or
    cancelled when the hospital withdrew the record before it was sent.

    Every change is committed before the connector goes on, so a killed process leaves each record either
    queued (never sent), sending (perhaps sent: confirm before resending) or done.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = open_wal(path, OUTBOX_SCHEMA)

    def add(self, rows: list[tuple[str, str, str, str]]) -> None:
        """Queue (serial, record type, record number, payload) rows in one transaction."""
        with self._lock, immediate(self._db):
            self._db.executemany("INSERT INTO outbox (serial, record_type, record_no, payload, state, updated) "
                                 "VALUES (?, ?, ?, ?, 'queued', ?)", [(*r, time.time()) for r in rows])

    def mark(self, serials: list[str], state: str, results: dict[str, dict[str, Any]] | None = None) -> None:
        with self._lock, immediate(self._db):
            for serial in serials:
                result = (results or {}).get(serial)
                bump = 1 if state == "sending" else 0
                self._db.execute("UPDATE outbox SET state = ?, result = COALESCE(?, result), attempts = attempts + ?, "
                                 "updated = ? WHERE serial = ?",
                                 (state, json.dumps(result, ensure_ascii=False) if result else None, bump, time.time(), serial))

    def cancel_open(self, record_type: str, record_no: str) -> int:
        """Mark the queued and sending rows of one record cancelled; how many there were."""
        with self._lock:
            cursor = self._db.execute("UPDATE outbox SET state = 'cancelled', updated = ? WHERE record_type = ? AND "
                                      "record_no = ? AND state IN ('queued', 'sending')", (time.time(), record_type, record_no))
        return cursor.rowcount

    def rows(self, states: tuple[str, ...] | None = None, serials: list[str] | None = None) -> list[OutboxRow]:
        query = "SELECT serial, record_type, record_no, payload, state, result, attempts FROM outbox"
        where: list[str] = []
        args: list[str] = []
        if states:
            where.append(f"state IN ({','.join('?' * len(states))})")
            args.extend(states)
        if serials:
            where.append(f"serial IN ({','.join('?' * len(serials))})")
            args.extend(serials)
        if where:
            query += " WHERE " + " AND ".join(where)
        with self._lock:
            found = self._db.execute(query + " ORDER BY seq", args).fetchall()
        return [OutboxRow(s, t, n, p, st, json.loads(r) if r else None, a) for s, t, n, p, st, r, a in found]

    def close(self) -> None:
        with self._lock:
            self._db.close()


# -- the connector --------------------------------------------------------------------------------------------
class MchPlatformConnector:
    """Implements `harness.ports.mch_platform.MchPlatformPort` against the platform (or its mock) at the WSDL URL."""

    def __init__(self, settings: MchSettings) -> None:
        self.settings = settings
        self.contract = load_contract(Path(settings.contract_folder))
        self.spec = spec_of(self.contract)
        self.validator = SoapValidator(self.contract)
        self.limits = deadlines(self.contract)
        self.outbox = Outbox(Path(settings.outbox_path))
        self.session: Session | None = None
        self._expires_at = 0.0
        self._client: zeep.Client | None = None
        self._schemas: dict[str, tuple[str, tuple[_Field, ...]]] = {}
        self.after_reply: Callable[[list[str]], None] | None = None
        """Called with the serials of a reply just decoded, before the outbox records it (crash tests, tracing)."""

    def close(self) -> None:
        self.outbox.close()
        if self._client is not None:
            self._client.transport.session.close()
        if self.settings.remove_outbox_on_close:
            for suffix in ("", "-wal", "-shm"):
                Path(self.settings.outbox_path + suffix).unlink(missing_ok=True)
            try:
                Path(self.settings.outbox_path).parent.rmdir()
            except OSError:
                pass  # not empty or already gone: only the runner's own temporary folder is removed

    # -- records ---------------------------------------------------------------------------------------------
    def _schema(self, record_type: str) -> tuple[str, tuple[_Field, ...]]:
        if record_type not in self._schemas:
            if record_type not in self.spec.payload_types:
                raise InvalidRecord(f"unknown record type {record_type!r} (known: {', '.join(self.spec.payload_types)})",
                                    [Finding("", f"unknown record type {record_type!r}", "payload-type")])
            ptype = self.spec.payload_types[record_type]
            ns, _, root = ptype.root[1:].partition("}")
            xsd = xmlsafe.parse((self.contract.folder / ptype.schema).read_bytes(), 4 * 1024 * 1024)
            element = xsd.find(f"{XS}element[@name='{root}']")
            assert element is not None, f"{ptype.schema} declares no {root}"
            self._schemas[record_type] = (ptype.root, _fields(element))
        return self._schemas[record_type]

    def _xml(self, record: HospitalRecord, serial: str, operation: str, reason: str | None) -> bytes:
        root_name, fields = self._schema(record.record_type)
        ns = root_name[1:].partition("}")[0]
        header = {"recordNo": record.record_no, "operation": operation, "uploadSerial": serial,
                  "orgCode": self.settings.org_code, "orgName": self.settings.org_name, "reportDate": self._report_date(),
                  "correctionReason": reason}
        root = etree.Element(root_name, nsmap={None: ns})
        _fill(root, ns, fields, {**record.data, **{k: v for k, v in header.items() if v is not None}})
        return etree.tostring(root, xml_declaration=True, encoding="utf-8")

    @staticmethod
    def _report_date() -> date:
        """The day a record is reported: today, the day it is built and sent."""
        return date.today()

    def _rule_findings(self, record_type: str, root: etree._Element) -> list[Finding]:
        return [Finding(f.location, f.message, f.rule) for f in record_rules(record_type, root, date.today(), self.limits)]

    def check(self, record_type: str, raw: bytes) -> list[Finding]:
        """What the platform would refuse in this record: its XSD, then the rules."""
        payload = self.validator.validate_record(raw, record_type)
        errors = [Finding(f.location, f.message, f.rule) for f in payload.findings if f.severity is Severity.ERROR]
        if errors or payload.root is None:
            return errors
        return self._rule_findings(record_type, payload.root)

    def _checked(self, record: HospitalRecord, serial: str, operation: str = NEW, reason: str | None = None) -> bytes:
        raw = self._xml(record, serial, operation, reason)
        findings = self.check(record.record_type, raw)
        if findings:
            more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
            raise InvalidRecord(f"{record.record_type} {record.record_no}: {findings[0].location}: {findings[0].message}{more}",
                                findings)
        return raw

    def build(self, record: HospitalRecord, correction: str | None = None) -> bytes:
        return self._checked(record, self._serial(), CORRECTION if correction else NEW, correction)

    @staticmethod
    def _serial() -> str:
        return uuid.uuid4().hex

    # -- the wire --------------------------------------------------------------------------------------------
    def _zeep(self) -> zeep.Client:
        if self._client is None:
            timeout = self.settings.timeout_s
            transport = Transport(timeout=max(timeout, 5.0), operation_timeout=timeout, session=ProxiesOnceSession())
            settings = zeep.Settings(strict=True, forbid_dtd=True, forbid_entities=True)
            try:
                self._client = zeep_documents.client(self.settings.wsdl_url, transport, settings)
            except (requests.RequestException, zeep.exceptions.Error, etree.XMLSyntaxError) as exc:
                transport.session.close()
                raise Unavailable(f"cannot read the platform's WSDL at {self.settings.wsdl_url}: {exc}") from None
        return self._client

    def login(self) -> Session:
        try:
            reply = self._zeep().service.Login(orgCode=self.settings.org_code, password=self.settings.password)
        except (requests.RequestException, zeep.exceptions.TransportError, zeep.exceptions.XMLSyntaxError,
                etree.XMLSyntaxError, zeep.exceptions.Fault) as exc:
            raise Unavailable(f"Login failed: {type(exc).__name__}: {exc}") from None
        if reply.ResultCode != "0":
            raise AuthFailed(f"Login refused: {reply.ResultCode} {reply.ResultMessage}")
        self.session = Session(reply.sessionKey, int(reply.expiresIn or 0))
        self._expires_at = time.monotonic() + max(0, self.session.expires_in - 30)
        return self.session

    def _renew_session(self) -> None:
        """The platform said the session is gone: log in again (the caller repeats the call once)."""
        self.session = None
        self.login()

    def _header(self) -> Any:
        if self.session is None or time.monotonic() >= self._expires_at:
            self.login()
        assert self.session is not None
        return self._zeep().get_element(f"{{{SERVICE_NS}}}SessionHeader")(orgCode=self.settings.org_code,
                                                                          sessionKey=self.session.key)

    def _call(self, operation: str, **kwargs: Any) -> Any:
        """One operation with the session header; Client.Auth -> log in again and repeat once; no reply -> _Lost.

        A login the call needs that gets no answer is lost like the call itself, so a delivery tries again: after a
        restart the first call logs in afresh, and a slow answer to that login must not end the recovery at once."""
        try:
            return self._call_once(operation, **kwargs)
        except Unavailable as exc:
            raise _Lost(str(exc)) from None

    def _call_once(self, operation: str, **kwargs: Any) -> Any:
        for attempt in (1, 2):
            try:
                return getattr(self._zeep().service, operation)(**kwargs, _soapheaders=[self._header()])
            except zeep.exceptions.Fault as fault:
                code = str(fault.code or "")
                if code.endswith("Client.Auth") and attempt == 1:
                    self._renew_session()
                    continue
                if code.split(":")[-1].startswith("Client"):
                    raise Refused(code.split(":")[-1], fault.message) from None
                raise _Lost(f"{operation}: SOAP Fault {code}: {fault.message}") from None
            except (requests.RequestException, zeep.exceptions.TransportError, zeep.exceptions.XMLSyntaxError,
                    etree.XMLSyntaxError) as exc:
                raise _Lost(f"{operation}: {type(exc).__name__}: {exc}") from None
        raise AssertionError("unreachable")

    # -- uploads through the outbox ---------------------------------------------------------------------------
    @staticmethod
    def _result_dict(row: OutboxRow, reply: Any) -> dict[str, Any]:
        errors = [{"code": e.code, "location": e.location, "message": e.message} for e in (reply.error or [])]
        return {"status": reply.status, "recordId": reply.recordId, "version": int(reply.version) if reply.version else None,
                "error": errors}

    @staticmethod
    def _result(row: OutboxRow) -> UploadResult:
        r = row.result or {}
        return UploadResult(row.record_type, row.record_no, r.get("status", "PENDING"), r.get("recordId"), r.get("version"),
                            tuple(RecordError(e["code"], e["location"], e["message"]) for e in r.get("error", [])))

    def _send(self, rows: list[OutboxRow], single: bool) -> None:
        """Send queued rows (one type) and record the answers; _Lost leaves them `sending`."""
        serials = [r.serial for r in rows]
        self.outbox.mark(serials, "sending")
        if single and len(rows) == 1:
            reply = self._call("UploadRecord", recordType=rows[0].record_type, payload=rows[0].payload)
            results = [reply.result] if reply.result is not None else []
        else:
            reply = self._call("UploadBatch", recordType=rows[0].record_type, payload=[r.payload for r in rows])
            results = list(reply.result or [])
        by_index = {int(r.index): r for r in results}
        if self.after_reply is not None:
            self.after_reply(serials)
        answers = {row.serial: self._result_dict(row, by_index[i]) for i, row in enumerate(rows, start=1) if i in by_index}
        self.outbox.mark(list(answers), "done", answers)
        missing = [s for s in serials if s not in answers]
        if missing:
            raise _Lost(f"the platform's reply has no result for {len(missing)} record(s)")

    def _recover(self, rows: list[OutboxRow]) -> None:
        """Rows that may have reached the platform: done when the platform holds this upload serial, else queued again."""
        for row in rows:
            try:
                reply = self._call("QueryUploadResult", recordType=row.record_type, recordNo=row.record_no)
            except Refused:
                reply = None
            if reply is not None and reply.ResultCode == "0" and reply.uploadSerial == row.serial:
                self.outbox.mark([row.serial], "done", {row.serial: {"status": "ACCEPTED", "recordId": reply.recordId,
                                                                     "version": int(reply.version), "error": []}})
            else:
                self.outbox.mark([row.serial], "queued")

    def _deliver(self, serials: list[str], single: bool) -> list[UploadResult]:
        """Send these rows until each has a final answer; Unavailable when the platform cannot be reached."""
        last = ""
        for _ in range(ATTEMPTS):
            sending = self.outbox.rows(("sending",), serials)
            try:
                if sending:
                    self._recover(sending)
                queued = self.outbox.rows(("queued",), serials)
                for record_type in dict.fromkeys(r.record_type for r in queued):
                    same = [r for r in queued if r.record_type == record_type]
                    for start in range(0, len(same), BATCH_LIMIT):
                        self._send(same[start:start + BATCH_LIMIT], single)
            except _Lost as lost:
                last = str(lost)
                continue
            return [self._result(r) for r in self.outbox.rows(None, serials)]
        raise Unavailable(f"the platform did not answer ({last}); {len(serials)} record(s) kept in the outbox")

    def upload(self, record: HospitalRecord) -> UploadResult:
        serial = self._serial()
        raw = self._checked(record, serial)
        self.outbox.add([(serial, record.record_type, record.record_no, raw.decode("utf-8"))])
        return self._deliver([serial], single=True)[0]

    def upload_batch(self, records: list[HospitalRecord]) -> list[UploadResult]:
        if len({r.record_type for r in records}) > 1:
            raise MchError("a batch carries records of one type")
        built = []
        for record in records:
            serial = self._serial()
            built.append((serial, record.record_type, record.record_no, self._checked(record, serial).decode("utf-8")))
        self.outbox.add(built)
        return self._deliver([b[0] for b in built], single=False)

    def correct(self, record: HospitalRecord, reason: str) -> UploadResult:
        serial = self._serial()
        raw = self._checked(record, serial, CORRECTION, reason)
        self.outbox.add([(serial, record.record_type, record.record_no, raw.decode("utf-8"))])
        return self._deliver([serial], single=True)[0]

    def flush(self) -> list[UploadResult]:
        open_rows = [r.serial for r in self.outbox.rows(("queued", "sending"))]
        return self._deliver(open_rows, single=False) if open_rows else []

    def pending(self) -> int:
        return len(self.outbox.rows(("queued", "sending")))

    # -- queries ---------------------------------------------------------------------------------------------
    def _safe(self, operation: str, **kwargs: Any) -> Any:
        try:
            reply = self._call(operation, **kwargs)
        except _Lost as lost:
            raise Unavailable(str(lost)) from None
        if reply.ResultCode != "0":
            raise Refused(reply.ResultCode, reply.ResultMessage)
        return reply

    def query(self, record_id: str) -> AuditResult:
        reply = self._safe("QueryUploadResult", recordId=record_id)
        return AuditResult(reply.recordId, reply.recordType, reply.recordNo, reply.status, int(reply.version),
                           tuple(reply.reason or ()))

    def withdraw(self, record_id: str, reason: str) -> str:
        """Void a record on the platform, and whatever the outbox still holds for it (never sent after this)."""
        reply = self._safe("WithdrawRecord", recordId=record_id, reason=reason)
        for row in self.outbox.rows(("done",)):
            if (row.result or {}).get("recordId") == record_id:
                self.outbox.cancel_open(row.record_type, row.record_no)
        return str(reply.status)


def reference(settings: MchSettings) -> MchPlatformConnector:
    """The factory `hih run` uses by default (`connectors.mch_platform:reference`)."""
    return MchPlatformConnector(settings)
