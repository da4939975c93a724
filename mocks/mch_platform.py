"""The provincial maternal-child health platform, played from its contract: sessions, record checks, audit, withdrawal.

Login trades an organisation code and password for a session key that expires; every other call carries it in the
SessionHeader (refused with a `Client.Auth` fault when unknown or expired). Each uploaded record is checked against
the XSD of its type (the SOAP transport does that and hands the findings over), then against the platform's rules
(`harness.contract.mch_rules`: ID check characters, date order, report deadlines) and for duplicates: the same
organisation, record type and record number is refused unless the record declares itself a correction
(operation 2). Batches answer per record (partial success). Accepted records wait for audit, which runs when the
hospital asks for the result: some are returned for correction (a caesarean without its indication, an orange or
red high-risk pregnancy without a management plan, or any record a scenario marks). Withdrawal voids a record and
frees its number.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from lxml import etree

from harness.contract import xmlsafe
from harness.contract.findings import Finding, Severity
from harness.contract.mch_rules import (
    CORRECTION,
    RULE_CODES,
    child_named,
    deadlines,
    id_card_names,
    record_rules,
)
from harness.contract.model import Contract
from harness.contract.soap import spec_of
from harness.contract.soap_validate import Payload
from harness.contract.soap_wsdl import local_name
from mocks.base import MockService
from mocks.clock_checks import xml_stamps
from mocks.shared_checked import CheckedSharedStore
from mocks.state import Store
from mocks.transport.soap import Behaviour, SoapContext, soap_app

TEST_ORG_CODE = "410105000012"
TEST_PASSWORD = "hih-test-mch-password"
SESSION_TTL_S = 1800
ACCEPTED, REJECTED = "ACCEPTED", "REJECTED"
PENDING, PASSED, RETURNED, WITHDRAWN = "PENDING", "PASSED", "RETURNED", "WITHDRAWN"


def _text(root: etree._Element | None, name: str) -> str | None:
    child = child_named(root, name) if root is not None else None
    return (child.text or "").strip() if child is not None else None


@lru_cache(maxsize=8)
def _compact(day: date) -> str:
    """`YYYYMMDD` of a date, as record and batch numbers carry it (strftime once a day, not once a record)."""
    return f"{day:%Y%m%d}"


def _error(code: str, location: str, message: str) -> dict[str, str]:
    return {"code": code, "location": location, "message": message}


def _uploaded(result: dict[str, Any]) -> dict[str, Any]:
    """UploadRecord's answer for its record's result."""
    if result["status"] == ACCEPTED:
        return {"ResultCode": "0", "ResultMessage": "成功", "result": result}
    return {"ResultCode": "1", "ResultMessage": f"记录被拒绝：{result['error'][0]['message']}", "result": result}


def _payload_errors(findings: list[Finding]) -> list[dict[str, str]]:
    errors = [f for f in findings if f.severity is Severity.ERROR]
    return [_error("1002" if f.rule == "payload-type" else "1001", f.location, f.message) for f in errors]


class MchPlatformMock(MockService):
    """The platform's behaviour behind the SOAP transport; records, sessions and keys live in the store."""

    interface = "mch-platform"
    transport = "http"
    shares_state = True
    shared_store = CheckedSharedStore
    """With `--workers`: sessions, records and the duplicate keys in one shared file, each call committed before it
    is answered, a call run again when another worker changed what it read (`mocks.shared_checked`)."""
    auto_workers = 2
    """Two serving processes beat one for the SOAP mocks on 2 cores with the load client beside them (bench/RESULTS.md)."""
    lean_http = True
    """The lean HTTP server (`mocks.transport.lean_http`): same limits and timeouts as uvicorn, less CPU per call."""

    def __init__(self, contract: Contract, store: Store | None = None, journal_capacity: int = 10_000,
                 credentials: dict[str, str] | None = None, session_ttl_s: float = SESSION_TTL_S) -> None:
        self.credentials = credentials or {
            os.environ.get("HIH_MCH_ORG_CODE", TEST_ORG_CODE): os.environ.get("HIH_MCH_PASSWORD", TEST_PASSWORD)}
        self._seeded_credentials = dict(self.credentials)
        self.session_ttl_s = session_ttl_s
        self.limits = deadlines(contract)
        self.id_cards = id_card_names(contract.folder)
        """The ID-card elements its record schemas declare, by local name: found by name in each record."""
        self.spec = spec_of(contract)
        self.audit_returns: dict[str, str] = {}
        """recordNo -> reason: records the next audit returns for correction (set by scenarios)."""
        self._stride: tuple[int, int] | None = None
        """(index, workers) when this is one of several serving processes (`share`)."""
        self._floor: dict[str, int] = {}
        """Per counter, the highest number drawn by any process when this one started serving."""
        super().__init__(contract, store, journal_capacity)

    # -- serving ----------------------------------------------------------------------------------------------
    def asgi_app(self) -> Any:
        handlers: dict[str, Behaviour] = {"Login": self.login, "UploadRecord": self.upload_record, "UploadBatch": self.upload_batch,
                    "QueryUploadResult": self.query, "WithdrawRecord": self.withdraw}
        # an upload's handler reads the journal's plain form of its request (two strings): no zeep value objects
        return soap_app(self.contract, handlers, self.journal, self.faults, authenticate=self.authenticate,
                        plain_requests=frozenset({"UploadRecord"}))

    def reset(self) -> None:
        self.audit_returns.clear()
        self.credentials.clear()
        self.credentials.update(self._seeded_credentials)
        super().reset()

    def today(self) -> date:
        return self.clock().date()

    def share(self, index: int, workers: int, state: Path) -> None:
        """Draw record and batch numbers from this worker's own counter row, every `workers`-th number: two
        uploads on two workers never read the same counter, so they never run again for it."""
        self._stride = (index, workers)
        self._floor = {name: self._drawn(name) for name in ("record", "batch")}

    def _drawn(self, counter: str) -> int:
        """The highest number of `counter` drawn so far, by one process (its row) or several (a row each)."""
        return max((int(value) for key, value in self.store.items("counters")
                    if key == counter or key.startswith(counter + "@")), default=0)

    def _next(self, counter: str) -> int:
        """The next number of `counter` (in the caller's transaction)."""
        if self._stride is None:
            number = self._drawn(counter) + 1
            self.store.put("counters", counter, number)
            return number
        index, workers = self._stride
        own = f"{counter}@{index}"
        last = max(int(self.store.get("counters", own) or 0), self._floor.get(counter, 0))
        number = last + 1 + (index - (last + 1)) % workers  # the next above `last` that is this worker's
        self.store.put("counters", own, number)
        return number

    def _stamps(self, context: SoapContext) -> None:
        """The records' reportDate read against the platform's date (the contract's clock_skew)."""
        context.exchange.request_findings = [*context.exchange.request_findings, *xml_stamps(
            self.contract, context.operation, [p.root for p in context.payloads if p.root is not None], self.clock())]

    @property
    def service_url(self) -> str:
        assert self.endpoint is not None, "the mock is not started"
        return self.endpoint.url + self.spec.path

    def extra_endpoints(self) -> dict[str, str]:
        """What `hih mock serve` announces beside the base URL: where a hospital's client reads the WSDL."""
        return {"wsdl": f"{self.service_url}?wsdl"} if self.endpoint is not None else {}

    def accepts(self) -> dict[str, str]:
        from mocks.self_service import shown_secret

        org, password = next(iter(self._seeded_credentials.items()))
        return {"orgCode": org, "password": shown_secret(password, TEST_PASSWORD, "HIH_MCH_PASSWORD"),
                "session": f"Login, then SessionHeader orgCode + sessionKey (valid {self.session_ttl_s:g} s)"}

    def population_data(self) -> dict[str, Any]:
        """The organisation it accepts, the record types with their root elements, and the records it holds (the
        newest 1,000: number, type, audit status, why returned)."""
        from mocks.self_service import MAX_POPULATION_ROWS

        return {"interface": self.interface, "contract": self.contract.version,
                "organisations": list(self._seeded_credentials),
                "record_types": [{"recordType": t.name, "title": t.title, "root": t.root}
                                 for t in self.spec.payload_types.values()],
                "records": [{k: r.get(k) for k in ("id", "org", "type", "recordNo", "version", "status", "reasons", "uploaded")}
                            for r in self.records()[-MAX_POPULATION_ROWS:]]}

    # -- sessions ---------------------------------------------------------------------------------------------
    def authenticate(self, credentials: dict[str, str], context: SoapContext) -> str | None:
        session = self.store.peek("sessions", credentials.get("sessionKey", ""))  # read only: no copy
        if session is None or session["org"] != credentials.get("orgCode"):
            return "会话无效，请先登录"
        if session["expires"] <= time.time():
            return "会话已过期，请重新登录"
        return None

    def expire_sessions(self) -> int:
        """End every open session now (the platform's session window has passed); returns how many."""
        def work() -> int:
            count = 0
            for key, session in self.store.items("sessions"):
                if session["expires"] > time.time():
                    self.store.put("sessions", key, {**session, "expires": 0})
                    count += 1
            return count

        return self.store.atomic(work)

    def login(self, request: Any, context: SoapContext) -> dict[str, Any]:
        if self.credentials.get(request.orgCode) != request.password:
            return {"ResultCode": "1101", "ResultMessage": "机构编码或密码错误"}
        key = secrets.token_hex(16)
        self.store.put("sessions", key, {"org": request.orgCode, "expires": time.time() + self.session_ttl_s})
        return {"ResultCode": "0", "ResultMessage": "成功", "sessionKey": key, "expiresIn": int(self.session_ttl_s)}

    # -- uploads ----------------------------------------------------------------------------------------------
    def _next_id(self, today: date) -> str:
        return f"MCH{_compact(today)}{self._next('record'):08d}"

    def _accept(self, org: str, record_type: str, payload: Payload, index: int) -> dict[str, Any]:
        """Check one record and keep it when it passes; its per-record result."""
        root = payload.root
        record_no = _text(root, "recordNo")
        errors = _payload_errors(payload.findings)
        today = self.today()  # once a record: the clock read, its date made, for the rules, the number, the record
        if not errors and root is not None:
            prefix = f"{payload.location}#" if payload.location else ""
            errors = [_error(RULE_CODES.get(f.rule, "3002"), f.location, f.message)
                      for f in record_rules(record_type, root, today, self.limits, prefix, self.id_cards)]
        result: dict[str, Any] = {"index": index, "recordNo": record_no}
        if errors or root is None or record_no is None:
            return {**result, "status": REJECTED, "error": errors or [_error("1001", payload.location, "no record")]}
        key = f"{org}|{record_type}|{record_no}"
        existing = self.store.get("keys", key)
        correction = _text(root, "operation") == CORRECTION
        if existing and not correction:
            return {**result, "status": REJECTED, "error": [_error(
                "2001", f"{payload.location}#/{local_name(root.tag)}/recordNo",
                f"记录编号 {record_no} 已上传（平台记录 {existing}），更正请声明上传类型 2")]}
        if correction and not existing:
            return {**result, "status": REJECTED, "error": [_error(
                "2002", f"{payload.location}#/{local_name(root.tag)}/operation", f"更正的记录 {record_no} 不存在或已撤回")]}
        text = payload.text if payload.text is not None else etree.tostring(root, encoding="unicode")  # kept as received
        serial = _text(root, "uploadSerial")
        if existing:
            record = self.store.get("records", existing)
            record.update(version=record["version"] + 1, payload=text, serial=serial, status=PENDING, reasons=[],
                          audited=False)
        else:
            existing = self._next_id(today)
            record = {"id": existing, "org": org, "type": record_type, "recordNo": record_no, "version": 1,
                      "payload": text, "serial": serial, "status": PENDING, "reasons": [], "audited": False,
                      "uploaded": today.isoformat()}
            self.store.put("keys", key, existing)
        self.store.put("records", existing, record)
        return {**result, "status": ACCEPTED, "recordId": existing, "version": record["version"]}

    def upload_record(self, request: Any, context: SoapContext) -> dict[str, Any] | asyncio.Future[dict[str, Any]]:
        """One record: checked, kept when it passes; answered once it is committed (with `--workers`, together with
        the other uploads of the same turn of the loop: `CheckedSharedStore.atomic_later`, whose future the
        transport chains its reply to, no task per upload)."""
        self._stamps(context)
        org = (context.credentials or {}).get("orgCode", "")
        if not context.payloads:
            errors = _payload_errors(context.findings) or [_error("1002", "/Envelope/Body/UploadRecord", "no record")]
            return _uploaded({"index": 1, "status": REJECTED, "error": errors})
        payload = context.payloads[0]
        record_type = request["recordType"]  # the journal's plain form (`plain_requests`)
        return self.store.atomic_later(lambda: _uploaded(self._accept(org, record_type, payload, 1)))

    def upload_batch(self, request: Any, context: SoapContext) -> dict[str, Any]:
        self._stamps(context)
        org = (context.credentials or {}).get("orgCode", "")
        results = []
        if not context.payloads:
            errors = _payload_errors(context.findings)
            results = [{"index": i + 1, "status": REJECTED, "error": errors} for i in range(len(request.payload or []))]
        for index, payload in enumerate(context.payloads, start=1):
            results.append(self.store.atomic(lambda: self._accept(org, request.recordType, payload, index)))  # noqa: B023 - called at once
        accepted = sum(r["status"] == ACCEPTED for r in results)
        rejected = len(results) - accepted
        counter = self.store.atomic(lambda: self._next("batch"))
        return {"ResultCode": "0" if not rejected else "1", "ResultMessage": f"接收 {accepted} 条，拒绝 {rejected} 条",
                "batchId": f"B{_compact(self.today())}{counter:06d}", "accepted": accepted, "rejected": rejected,
                "result": results}

    # -- audit, query, withdrawal -------------------------------------------------------------------------------
    def _audit_reasons(self, record: dict[str, Any]) -> list[str]:
        reasons = []
        if record["recordNo"] in self.audit_returns:
            reasons.append(self.audit_returns.pop(record["recordNo"]))
        root = xmlsafe.parse(record["payload"].encode("utf-8"), self.spec.max_bytes)
        if record["type"] == "DELIVERY" and _text(root, "deliveryMode") == "3" and not _text(root, "caesareanIndication"):
            reasons.append("剖宫产未填写剖宫产指征（caesareanIndication）")
        if record["type"] == "HIGH_RISK" and _text(root, "riskColor") in ("3", "4") and not _text(root, "managementPlan"):
            reasons.append("橙色或红色高危孕产妇未填写管理措施（managementPlan）")
        return reasons

    def audit(self, record_id: str) -> dict[str, Any] | None:
        """Audit one pending record now (the query does it when the hospital asks); the record after it."""

        def work() -> dict[str, Any] | None:
            record: dict[str, Any] | None = self.store.get("records", record_id)
            if record is None or record["status"] != PENDING or record["audited"]:
                return record
            reasons = self._audit_reasons(record)
            record.update(status=RETURNED if reasons else PASSED, reasons=reasons, audited=True)
            self.store.put("records", record_id, record)
            return record

        return self.store.atomic(work)

    def query(self, request: Any, context: SoapContext) -> dict[str, Any]:
        org = (context.credentials or {}).get("orgCode", "")
        record_id = getattr(request, "recordId", None)
        if not record_id:
            record_id = self.store.get("keys", f"{org}|{getattr(request, 'recordType', '')}|{getattr(request, 'recordNo', '')}")
        record = self.audit(record_id) if record_id else None
        if record is None or record["org"] != org:
            return {"ResultCode": "4001", "ResultMessage": "记录不存在"}
        return {"ResultCode": "0", "ResultMessage": "成功", "recordId": record["id"], "recordType": record["type"],
                "recordNo": record["recordNo"], "version": record["version"], "uploadSerial": record["serial"],
                "status": record["status"], "reason": record["reasons"]}

    def withdraw(self, request: Any, context: SoapContext) -> dict[str, Any]:
        org = (context.credentials or {}).get("orgCode", "")

        def work() -> dict[str, Any]:
            record = self.store.get("records", request.recordId)
            if record is None or record["org"] != org:
                return {"ResultCode": "4001", "ResultMessage": "记录不存在"}
            if record["status"] == WITHDRAWN:
                return {"ResultCode": "4002", "ResultMessage": "记录已撤回", "recordId": record["id"], "status": WITHDRAWN}
            record.update(status=WITHDRAWN, reasons=[request.reason])
            self.store.put("records", record["id"], record)
            self.store.delete("keys", f"{org}|{record['type']}|{record['recordNo']}")
            return {"ResultCode": "0", "ResultMessage": "成功", "recordId": record["id"], "status": WITHDRAWN}

        return self.store.atomic(work)

    # -- for steps and tests ----------------------------------------------------------------------------------
    def records(self, record_type: str | None = None, record_no: str | None = None,
                status: str | None = None) -> list[dict[str, Any]]:
        """Records the platform holds (withdrawn ones included), oldest first."""
        rows = [v for _, v in self.store.items("records")]
        return sorted((r for r in rows if (record_type is None or r["type"] == record_type)
                       and (record_no is None or r["recordNo"] == record_no)
                       and (status is None or r["status"] == status)), key=lambda r: r["id"])

    def uploads_of(self, record_no: str) -> int:
        """How many records numbered `record_no` arrived in UploadRecord and UploadBatch requests (every attempt)."""
        count = 0
        for exchange in self.journal.entries():
            if exchange.operation not in ("UploadRecord", "UploadBatch"):
                continue
            try:
                envelope = xmlsafe.parse(exchange.request_raw, self.spec.max_bytes)
            except xmlsafe.XmlRefused:
                continue
            for element in envelope.iter():
                if isinstance(element.tag, str) and local_name(element.tag) == "payload" and element.text:
                    try:
                        record = xmlsafe.parse(element.text.encode("utf-8"), self.spec.max_bytes)
                    except (xmlsafe.XmlRefused, ValueError):
                        continue
                    count += _text(record, "recordNo") == record_no
        return count
