"""Reference blood-centre connector (the hospital's blood bank) over zeep: every operation of the contract.

- Requests are checked against the contract's XSD before they leave and replies after they arrive (zeep alone
  accepts unknown enumeration values and bad dates); a breach is `InvalidInput` or `BadReply`.
- Only idempotent operations (per the contract: queries, orders and returns by number, cancellation) are resent
  after a lost reply or a Server fault; a lost ConfirmReceipt is reported, never resent (a bag is received once).
- Scanning bags in checks each DIN's ISBT 128 Type-3 flag (ISO 7064 MOD 37-2); an unreadable or mistyped DIN is
  reported as an INVALID_DIN discrepancy instead of being confirmed. A bag whose expiry (on the issue note) has
  passed when it is scanned is refused: not confirmed, reported as an EXPIRED discrepancy of the hospital's own
  (the centre's XSD has no such type; it sees the bag MISSING and the bill then disagrees with the stock).
- The blood bank's stock lives in SQLite (`connectors.blood_bank`), so a restarted connector still knows what it
  received and which returns the centre approved: a second receipt of the same bags and a return of a bag never
  received are refused before anything is sent, and the bill is reconciled against the bags still held.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests
import zeep
from lxml import etree
from zeep.exceptions import Error as ZeepError
from zeep.exceptions import Fault, TransportError
from zeep.plugins import Plugin
from zeep.transports import Transport

from connectors import zeep_documents
from connectors.blood_bank import DECIDED, Bag, BloodBank
from connectors.http_session import ProxiesOnceSession
from harness.contract.findings import Severity
from harness.contract.isbt128 import din_problem
from harness.contract.loader import load_contract
from harness.contract.soap_validate import SoapValidator
from harness.ports.blood_center import (
    AlreadyReceived,
    AuthRefused,
    BadReply,
    BloodCenterSettings,
    BloodOrder,
    CrossmatchSample,
    CrossmatchUnit,
    Discrepancy,
    FeedbackItem,
    FeeReconciliation,
    InvalidInput,
    IssuedUnit,
    IssueNote,
    Notice,
    NotReceived,
    OrderAck,
    OrderFeedback,
    Receipt,
    Refused,
    ReturnAck,
    ReturnStatus,
    ScannedBag,
    StoredBag,
    Unavailable,
    UnitFee,
)

SERVICE_NS = "urn:hih:blood-center:service"


class _Strict(Plugin):
    """Validates each outgoing request and each reply against the contract's XSD."""

    def __init__(self, validator: SoapValidator) -> None:
        self.validator = validator

    def egress(self, envelope: Any, http_headers: Any, operation: Any, binding_options: Any) -> Any:
        checked = self.validator.check_request(envelope, operation.soapaction)
        errors = [f for f in checked.findings if f.severity is Severity.ERROR]
        if errors:
            raise InvalidInput(f"{operation.name}: the request breaks the contract: {errors[0].location}: {errors[0].message}")
        return envelope, http_headers

    def ingress(self, envelope: Any, http_headers: Any, operation: Any) -> Any:
        checked = self.validator.check_response(envelope, operation.name)
        errors = [f for f in checked.findings if f.severity is Severity.ERROR]
        if errors:
            raise BadReply(f"{operation.name}: the reply breaks the contract: {errors[0].location}: {errors[0].message}")
        return envelope, http_headers


def _dec(value: Any) -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal(0)


def _naive(value: datetime) -> datetime:
    """A time from the centre as this machine's local time without an offset, as `datetime.now()` gives it: a time
    with an offset (`+08:00`, `Z`) is converted first, so that a centre in another zone or on UTC is not read hours
    off; a time without one is taken as local already."""
    return value.astimezone().replace(tzinfo=None) if value.tzinfo else value


class BloodCenterConnector:
    """The hospital's side of the blood-centre interface (implements `BloodCenterPort`)."""

    def __init__(self, settings: BloodCenterSettings) -> None:
        self.settings = settings
        plugins: list[Plugin] = []
        self.idempotent: dict[str, bool] = {}
        if settings.contract_folder:
            contract = load_contract(Path(settings.contract_folder))
            plugins.append(_Strict(SoapValidator(contract)))
            self.idempotent = {name: op.idempotent for name, op in contract.operations.items()}
        self._session = ProxiesOnceSession()
        transport = Transport(session=self._session, timeout=max(settings.timeout_s, 5.0), operation_timeout=settings.timeout_s)
        zeep_settings = zeep.Settings(strict=True, forbid_dtd=True, forbid_entities=True)
        try:
            self.client = zeep_documents.client(settings.wsdl_url, transport, zeep_settings, plugins)
        except (requests.RequestException, ZeepError, etree.XMLSyntaxError) as exc:
            self._session.close()
            raise Unavailable(f"cannot read the WSDL at {settings.wsdl_url}: {exc}") from None
        self._header = self.client.get_element(f"{{{SERVICE_NS}}}AuthHeader")(
            HospitalCode=settings.hospital_code, Token=settings.token)
        self._tmp: str | None = None
        if settings.store_path:
            path = Path(settings.store_path)
        else:
            self._tmp = tempfile.mkdtemp(prefix="hih-blood-bank-")
            path = Path(self._tmp) / "blood-bank.sqlite"
        self.bank = BloodBank(path)

    @property
    def received(self) -> dict[str, str]:
        """DIN -> issue number of every bag this hospital confirmed received (read from its blood-bank store)."""
        return self.bank.received()

    def close(self) -> None:
        self._session.close()
        self.bank.close()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    # -- one call, with the retry rule -------------------------------------------------------------------------
    def _call(self, operation: str, **data: Any) -> Any:
        attempts = 1 + (self.settings.retries if self.idempotent.get(operation, False) else 0)
        last = ""
        for _ in range(attempts):
            try:
                reply = getattr(self.client.service, operation)(**data, _soapheaders=[self._header])
            except Fault as fault:
                code = str(fault.code or "").split(":")[-1]
                if code.startswith("Client.Auth"):
                    raise AuthRefused(f"{operation}: {fault.message}") from None
                if code.startswith("Client"):
                    raise InvalidInput(f"{operation}: the centre refused the request: {fault.message}") from None
                last = f"SOAP Fault {code}: {fault.message}"
                continue
            except (requests.RequestException, TransportError, etree.XMLSyntaxError, ZeepError) as exc:
                last = f"{type(exc).__name__}: {exc}"
                continue
            if str(reply.ResultCode) != "0":
                raise Refused(str(reply.ResultCode), str(reply.ResultMessage))
            return reply
        tried = f" after {attempts} attempts" if attempts > 1 else " (not resent: the operation is not idempotent)"
        raise Unavailable(f"{operation}: no usable answer{tried}: {last}")

    # -- orders ------------------------------------------------------------------------------------------------
    def submit_order(self, order: BloodOrder) -> OrderAck:
        data = {"orderNo": order.order_no, "urgency": order.urgency, "wantedAt": order.wanted_at,
                "department": order.department, "orderedBy": order.ordered_by,
                "item": [{"lineNo": i.line_no, "productCode": i.product_code, "abo": i.abo, "rhd": i.rhd,
                          "quantity": i.quantity, "unit": i.unit} for i in order.items]}
        if order.remark:
            data["remark"] = order.remark
        reply = self._call("SubmitBloodOrder", order=data)
        return OrderAck(reply.orderNo, reply.status, reply.receivedAt)

    def order_feedback(self, order_no: str) -> OrderFeedback:
        f = self._call("QueryOrderFeedback", orderNo=order_no).feedback
        items = tuple(FeedbackItem(int(i.lineNo), i.productCode, i.abo, i.rhd, _dec(i.requested), _dec(i.confirmed),
                                   i.unit, i.reason) for i in f.item)
        return OrderFeedback(f.orderNo, f.status, f.updatedAt, f.reason, items)

    def cancel_order(self, order_no: str, reason: str) -> str:
        return str(self._call("CancelBloodOrder", orderNo=order_no, reason=reason).status)

    def issue_notes(self, order_no: str) -> list[IssueNote]:
        reply = self._call("DownloadIssuedUnits", orderNo=order_no)
        return [IssueNote(n.issueNo, n.orderNo, n.issuedAt, tuple(
            IssuedUnit(u.din, u.productCode, u.productName, u.abo, u.rhd, int(u.volume), u.collectedOn, u.expiresAt,
                       _dec(u.price)) for u in n.unit)) for n in reply.issue]

    # -- receipt -----------------------------------------------------------------------------------------------
    def receive(self, issue: IssueNote, scanned: list[ScannedBag]) -> Receipt:
        """Confirm the scanned bags of an issue note. DINs whose check flag is wrong are reported, not confirmed;
        bags past their expiry at scan time are refused (an EXPIRED discrepancy, not confirmed)."""
        problems = self._din_problems(scanned)
        invalid = [Discrepancy(din, "INVALID_DIN", f"扫描的献血码无效：{problem}") for din, problem in problems.items()]
        on_note = {unit.din: unit for unit in issue.units}
        now = datetime.now()
        expired = [Discrepancy(bag.din, "EXPIRED", f"血袋已于 {on_note[bag.din].expires_at:%Y-%m-%d %H:%M} 过期，拒收")
                   for bag in scanned if bag.din in on_note and _naive(on_note[bag.din].expires_at) <= now]
        refused = {d.din for d in expired}
        valid = [bag for bag in scanned if bag.din not in problems and bag.din not in refused]
        again = self._already_received([bag.din for bag in valid])
        if again:
            raise AlreadyReceived(f"already received: {', '.join(again)}; a bag is received once")
        units = [{"din": bag.din, "abo": bag.abo, "rhd": bag.rhd, "condition": "DAMAGED" if bag.damaged else "INTACT"}
                 for bag in valid]
        reported = [{"din": d.din[:40] or "?", "type": d.kind, "note": d.note[:200] if d.note else None} for d in invalid]
        reply = self._call("ConfirmReceipt", issueNo=issue.issue_no, receivedAt=datetime.now().replace(microsecond=0),
                           receivedBy=self.settings.received_by, unit=units, discrepancy=reported)
        discrepancies = tuple(Discrepancy(d.din, d.type, d.note) for d in reply.discrepancy) + tuple(expired)
        extra = {d.din for d in discrepancies if d.kind == "EXTRA"}
        self.bank.receive(issue.issue_no, [self._stock_card(bag, on_note.get(bag.din)) for bag in valid
                                           if bag.din not in extra])
        return Receipt(reply.receiptNo, int(reply.accepted or 0), discrepancies)

    @staticmethod
    def _stock_card(scanned: ScannedBag, unit: IssuedUnit | None) -> Bag:
        """What the blood bank keeps of a received bag: the issue note's safety fields (a bag not on the note, which
        the centre did not call EXTRA, keeps the group its label was scanned as and nothing else)."""
        if unit is None:
            return Bag(scanned.din, "", scanned.abo, scanned.rhd, 0, "", "")
        return Bag(unit.din, unit.product_code, unit.abo, unit.rhd, unit.volume, unit.collected_on.isoformat(),
                   _naive(unit.expires_at).isoformat())

    def stored_bag(self, din: str) -> StoredBag:
        """What the blood bank stored for a received bag, read back from its store."""
        found = self.bank.bag(din)
        if found is None:
            raise NotReceived(f"the blood bank holds no record of {din}: never received")
        issue_no, bag = found
        return StoredBag(bag.din, issue_no, bag.product_code, bag.abo, bag.rhd, bag.volume,
                         date.fromisoformat(bag.collected_on) if bag.collected_on else None,
                         datetime.fromisoformat(bag.expires_at) if bag.expires_at else None)

    @staticmethod
    def _din_problems(scanned: list[ScannedBag]) -> dict[str, str]:
        """DIN -> why it is no valid ISBT 128 DIN (its check flag), for the scanned bags that are not."""
        return {bag.din: problem for bag in scanned if (problem := din_problem(bag.din))}

    def _already_received(self, dins: list[str]) -> list[str]:
        held = self.received
        return [din for din in dins if din in held]

    def _not_received(self, dins: list[str]) -> list[str]:
        held = self.received
        return [din for din in dins if din not in held]

    # -- returns -----------------------------------------------------------------------------------------------
    def submit_return(self, return_no: str, dins: list[str], reason: str, remark: str | None = None) -> ReturnAck:
        for din in dins:
            problem = din_problem(din)
            if problem:
                raise InvalidInput(f"DIN {din}: {problem}")
        missing = self._not_received(dins)
        if missing:
            raise NotReceived(f"not received, cannot be returned: {', '.join(missing)}")
        data: dict[str, Any] = {"returnNo": return_no, "din": list(dins), "reason": reason}
        if remark:
            data["remark"] = remark
        reply = self._call("SubmitReturn", **data)
        self.bank.add_return(return_no, list(dins))
        return ReturnAck(reply.returnNo, reply.status)

    def return_status(self, return_no: str) -> ReturnStatus:
        reply = self._call("QueryReturnStatus", returnNo=return_no)
        if reply.status in DECIDED:
            self.bank.decide(return_no, str(reply.status))
        return ReturnStatus(reply.returnNo, reply.status, reply.reason, reply.decidedAt, tuple(reply.din or ()))

    def _stock(self) -> set[str]:
        """The bags the hospital holds: received, less those whose return the centre approved (asked again first
        for every return still pending, since the centre decides on its own time)."""
        for return_no in self.bank.returns("PENDING"):
            self.return_status(return_no)
        return set(self.received) - self.bank.returned()

    # -- cross-match, fees, notices ----------------------------------------------------------------------------
    def crossmatch_results(self, sample_no: str | None = None, since: datetime | None = None) -> list[CrossmatchSample]:
        data: dict[str, Any] = {}
        if sample_no:
            data["sampleNo"] = sample_no
        if since:
            data["since"] = since
        reply = self._call("QueryCrossmatchResults", **data)
        return [CrossmatchSample(s.sampleNo, s.PatientId, s.PatientName, s.abo, s.rhd, s.antibodyScreen, s.antibody,
                                 s.conclusion, s.reportedAt,
                                 tuple(CrossmatchUnit(u.din, bool(u.compatible), u.method) for u in s.unit))
                for s in reply.sample]

    def unit_fees(self, start: date, end: date) -> list[UnitFee]:
        reply = self._call("QueryUnitFees", fromDate=start, toDate=end)
        return [UnitFee(f.issueNo, f.din, f.productCode, int(f.volume), _dec(f.price), f.issuedAt) for f in reply.fee]

    def reconcile_fees(self, start: date, end: date) -> FeeReconciliation:
        """The centre's per-bag fees for the period against the bags this hospital received."""
        fees = self.unit_fees(start, end)
        charged = [f.din for f in fees]
        received = self._stock()
        matched = tuple(d for d in charged if d in received)
        result = FeeReconciliation(tuple(fees), sum((f.price for f in fees), Decimal("0.00")), matched,
                                   tuple(d for d in charged if d not in received),
                                   tuple(sorted(received - set(charged))))
        return replace(result, agreed=not result.charged_not_received and not result.received_not_charged)

    def notices(self, since: datetime) -> list[Notice]:
        reply = self._call("QueryNotices", since=since)
        return [Notice(n.noticeId, n.type, n.title, n.content, _naive(n.publishedAt), tuple(n.din or ())) for n in reply.notice]

    def recalled_in_stock(self, since: datetime) -> list[str]:
        """DINs of bags in stock that a RECALL notice since `since` names: to quarantine and return."""
        received = self._stock()
        return sorted({din for n in self.notices(since) if n.kind == "RECALL" for din in n.dins if din in received})


def reference(settings: BloodCenterSettings) -> BloodCenterConnector:
    """The factory `hih run` uses by default (`connectors.blood_center:reference`)."""
    return BloodCenterConnector(settings)
