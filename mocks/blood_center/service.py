"""The blood centre mock: the SOAP operations of the `blood-center` contract over `BloodCentre`, plus the console.

Business refusals are answers (ResultCode and ResultMessage); SOAP Faults are left to the transport (bad requests,
auth). The mock's ASGI app serves the SOAP service and, under `/console/`, the trainer's web console.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Hashable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from lxml import etree

from harness.contract.model import Contract
from harness.errors import UsageError
from mocks.base import Endpoint, MockService
from mocks.blood_center import answers
from mocks.blood_center.centre import BloodCentre, CentreError
from mocks.blood_center.inventory import PRODUCTS
from mocks.blood_center.labels import Labels
from mocks.blood_center.snapshots import TRAINING_TABLES
from mocks.blood_center.training import Training
from mocks.blood_center.vetting import AnswerVetting, check_state
from mocks.clock_checks import xml_stamps
from mocks.shared_checked import CheckedSharedStore
from mocks.state import Store
from mocks.transport.http import HttpReply, HttpTransport
from mocks.transport.runtime import Runtime
from mocks.transport.soap import SoapContext, SoapHandler, plain, soap_app

TEST_HOSPITAL = "H32010200001"
TEST_TOKEN = "hih-blood-center-test-token"
CONSOLE_PREFIX = "/console"


def _is_loopback(host: str) -> bool:
    from mocks.serve import is_loopback

    return is_loopback(host)




_READ_JOURNALED = frozenset({"SubmitBloodOrder"})
"""Operations whose handler reads the request as the journal keeps it (plain data, decoded straight into that form:
`SoapHandler(plain_requests=...)`), not zeep's typed values."""


class BloodCenterMock(MockService):
    """A regional blood centre: orders, issue notes, receipts, returns, cross-match results, fees and notices."""

    interface = "blood-center"
    transport = "http"
    shares_state = True
    shared_store = CheckedSharedStore
    """With `--workers`: orders, issue notes, stock and the console's changes in one shared file, each call committed
    before it is answered (`mocks.shared_checked`)."""
    auto_workers = 2
    """Two serving processes beat one for the SOAP mocks on 2 cores with the load client beside them (bench/RESULTS.md)."""
    lean_http = True
    """The lean HTTP server (`mocks.transport.lean_http`) serves the SOAP service and the console: same limits and
    timeouts as uvicorn, less CPU per call; the console's Host allow-list is the console's own."""

    def __init__(self, contract: Contract, store: Store | None = None, journal_capacity: int = 10_000,
                 credentials: dict[str, str] | None = None) -> None:
        self.credentials = credentials or {
            os.environ.get("HIH_BLOOD_CENTER_HOSPITAL", TEST_HOSPITAL): os.environ.get("HIH_BLOOD_CENTER_TOKEN", TEST_TOKEN)
        }
        self._registered = dict(self.credentials)
        self.console_token: str | None = None
        self.centre: BloodCentre
        self._app: Any = None
        self.vetting = AnswerVetting(SoapHandler(contract, {}))
        self.labels = Labels.of(contract)
        self.workers = 1
        """Processes serving this centre (`share`): drills follow one process's journal, so they need one."""
        super().__init__(contract, store, journal_capacity)
        self.training = Training(self)

    # -- state --------------------------------------------------------------------------------------------
    def reset(self) -> None:
        """A fresh centre: seeded state, and the hospitals registered at start (a spec may have changed them).
        A running drill is abandoned; the training records (snapshots, drill runs) are kept."""
        self.credentials = dict(self._registered)
        if self.training.runs.active() is not None:
            self.training.runs.abandon()
        self.store.atomic(self._reset_state)  # every worker resets: run again when another did meanwhile

    def _reset_state(self) -> None:
        kept = {table: self.store.items(table) for table in TRAINING_TABLES}
        super().reset()
        for table, rows in kept.items():
            for key, value in rows:
                self.store.put(table, key, value)

    def share(self, index: int, workers: int, state: Path) -> None:
        self.workers = workers

    def seed(self) -> None:
        """The centre over the store; records loaded from a state file are vetted, and those that cannot be served
        are set aside (shown on the console, answered as damaged, never served broken)."""
        loaded = bool(self.store.count("inventory") or self.store.problems)
        self.centre = BloodCentre(self.store, getattr(self, "_clock", None) or self._partner_now, vet=self.vetting)
        if loaded:
            self.centre.damaged = check_state(self.store, self.vetting)
        self.centre.seed()

    def seed_key(self) -> Hashable:
        """The seeded bags, notices and samples are a function of the partner's day (its date and time zone, and
        the clock's microseconds, which the notices keep): restored while that day lasts."""
        now = self.centre.now()
        return now.date(), now.tzinfo, now.microsecond

    def _partner_now(self) -> datetime:
        return self.clock().replace(microsecond=0)

    def set_clock(self, now: Callable[[], datetime]) -> None:
        """Replace the centre's clock (tests); kept across resets."""
        self._clock = now
        self.centre.now = now

    @property
    def hospital(self) -> str:
        return next(iter(self.credentials))

    @property
    def token(self) -> str:
        return self.credentials[self.hospital]

    @property
    def service_url(self) -> str:
        assert self.endpoint is not None, "the mock is not started"
        return self.endpoint.url + self.contract_path

    @property
    def contract_path(self) -> str:
        from harness.contract.soap import spec_of

        return spec_of(self.contract).path

    # -- serving ----------------------------------------------------------------------------------------------
    def start(self, runtime: Runtime, host: str = "127.0.0.1", port: int = 0) -> Endpoint:
        """As every mock; off loopback the console asks for HIH_CONSOLE_TOKEN (or HIH_ADMIN_TOKEN)."""
        if not _is_loopback(host):
            self.console_token = os.environ.get("HIH_CONSOLE_TOKEN") or os.environ.get("HIH_ADMIN_TOKEN")
            if not self.console_token:
                raise UsageError(f"--host {host} is not loopback: set HIH_CONSOLE_TOKEN so the blood-centre console asks for it")
        return super().start(runtime, host, port)

    def extra_endpoints(self) -> dict[str, str]:
        """What `hih mock serve` announces beside the service URL."""
        if self.endpoint is None:
            return {}
        token = " (token required)" if self.console_token else ""
        return {"console": f"{self.endpoint.url}{CONSOLE_PREFIX}/{token}", "wsdl": f"{self.service_url}?wsdl"}

    def accepts(self) -> dict[str, str]:
        from mocks.self_service import shown_secret

        hospital, token = next(iter(self._registered.items()))
        return {"HospitalCode": hospital, "Token": shown_secret(token, TEST_TOKEN, "HIH_BLOOD_CENTER_TOKEN"),
                "header": "SOAP Header AuthHeader (urn:hih:blood-center:service)"}

    def population_data(self) -> dict[str, Any]:
        """Every bag of the inventory (DIN, product, groups, volume, dates, price, state, whether it can be issued
        now), the orders, returns and notices (newest 1,000 of each) and the cross-match samples."""
        from mocks.self_service import MAX_POPULATION_ROWS

        centre = self.centre
        bags = []
        for bag in sorted(centre.bags(), key=lambda b: (b["productCode"], b["abo"], b["rhd"], b["expiresAt"], b["din"])):
            state = "EXPIRED" if bag["status"] == "AVAILABLE" and centre.expired(bag) else bag["status"]
            bags.append({**{k: bag.get(k) for k in ("din", "productCode", "abo", "rhd", "volume", "units", "collectedOn",
                                                       "expiresAt", "price", "status")},
                         "productName": PRODUCTS[bag["productCode"]].name, "state": state,
                         "inStock": state == "AVAILABLE"})
        return {"interface": self.interface, "contract": self.contract.version, "hospitals": list(self._registered),
                "bags": bags, "orders": [answers.feedback(o)["feedback"] for o in centre.orders()][:MAX_POPULATION_ROWS],
                "returns": [answers.return_status(r) for r in centre.returns()][:MAX_POPULATION_ROWS],
                "notices": answers.notices(centre.notices(datetime.min))["notice"][-MAX_POPULATION_ROWS:],
                "crossmatch": answers.samples(centre.crossmatch(None, None))["sample"]}

    def asgi_app(self) -> Any:
        from mocks.blood_center.console import console_app

        return _Routed(self.soap_app(), console_app(self))

    def soap_app(self) -> HttpTransport:
        handlers = {
            "SubmitBloodOrder": self._submit_order, "QueryOrderFeedback": self._feedback,
            "CancelBloodOrder": self._cancel, "DownloadIssuedUnits": self._download, "ConfirmReceipt": self._receipt,
            "SubmitReturn": self._submit_return, "QueryReturnStatus": self._return_status,
            "QueryCrossmatchResults": self._crossmatch, "QueryUnitFees": self._fees, "QueryNotices": self._notices,
        }
        return soap_app(self.contract, {k: self._answering(v) for k, v in handlers.items()},
                        self.journal, self.faults, authenticate=self.authenticate, plain_requests=_READ_JOURNALED)

    def _answering(self, handler: Callable[[Any, str], dict[str, Any] | etree._Element]
                   ) -> Callable[[Any, SoapContext], Awaitable[dict[str, Any] | etree._Element]]:
        """The handler, after the hospital's timestamps are read against the centre's clock."""
        answer = self._refusals_answered(handler)

        def checked(request: Any, context: SoapContext) -> Awaitable[dict[str, Any] | etree._Element]:
            context.exchange.request_findings = [*context.exchange.request_findings, *xml_stamps(
                self.contract, context.operation, [context.content], self.clock())]
            return answer(request, context)

        return checked

    def authenticate(self, credentials: dict[str, str], context: SoapContext) -> str | None:
        expected = self.credentials.get(credentials.get("HospitalCode", ""))
        if expected is None:
            return f"医院编码 {credentials.get('HospitalCode', '')} 未在血液中心登记"
        if credentials.get("Token") != expected:
            return "令牌无效"
        return None

    def _refusals_answered(self, handler: Callable[[Any, str], dict[str, Any] | etree._Element]
                           ) -> Callable[[Any, SoapContext], Awaitable[dict[str, Any] | etree._Element]]:
        shared = self.workers > 1  # another process may change what a call read: run it again on the fresh state

        async def answer(request: Any, context: SoapContext) -> dict[str, Any] | etree._Element:
            """The centre's answer; with `--workers`, once committed with the other calls of the same turn of the
            loop (`CheckedSharedStore.atomic_soon`)."""
            hospital = (context.credentials or {}).get("HospitalCode", "")
            try:
                result = (await self.store.atomic_soon(lambda: handler(request, hospital)) if shared
                          else handler(request, hospital))
            except CentreError as refused:
                return {"ResultCode": refused.code, "ResultMessage": refused.message}
            return result if isinstance(result, etree._Element) else {**answers.SUCCESS, **result}

        return answer

    # -- the operations ---------------------------------------------------------------------------------------
    def _submit_order(self, request: dict[str, Any], hospital: str) -> etree._Element:
        """Built with lxml like the issue notes: ordering is the hot write of the interface. `request` is the journal's
        plain form (`_READ_JOURNALED`): copied where it changes."""
        order = {**request["order"], "item": [{**item, "quantity": answers.quantity(item["quantity"])}
                                              for item in request["order"]["item"]]}
        answer = self.centre.submit_order(hospital, order)
        return answers.submitted(answer["orderNo"], answer["status"], answer["receivedAt"])

    def _feedback(self, request: Any, hospital: str) -> dict[str, Any]:
        return answers.feedback(self.centre.order(hospital, request.orderNo))

    def _cancel(self, request: Any, hospital: str) -> dict[str, Any]:
        return {"status": self.centre.cancel_order(hospital, request.orderNo, request.reason)["status"]}

    def _download(self, request: Any, hospital: str) -> etree._Element:
        return answers.issued_units(self.centre.issue_notes(hospital, request.orderNo))

    def _receipt(self, request: Any, hospital: str) -> dict[str, Any]:
        data = plain(request)
        result = self.centre.confirm_receipt(hospital, data["issueNo"], data["receivedAt"], data["receivedBy"],
                                             data.get("unit") or [], data.get("discrepancy") or [])
        result["discrepancy"] = [answers.no_none(d) for d in result["discrepancy"]]
        return result

    def _submit_return(self, request: Any, hospital: str) -> dict[str, Any]:
        record = self.centre.submit_return(hospital, request.returnNo, list(request.din), request.reason, request.remark)
        return {"returnNo": record["returnNo"], "status": record["status"]}

    def _return_status(self, request: Any, hospital: str) -> dict[str, Any]:
        return answers.return_status(self.centre.return_record(hospital, request.returnNo))

    def _crossmatch(self, request: Any, hospital: str) -> dict[str, Any]:
        return answers.samples(self.centre.crossmatch(request.sampleNo, request.since))

    def _fees(self, request: Any, hospital: str) -> dict[str, Any]:
        start: date = request.fromDate
        end: date = request.toDate
        fees = self.centre.unit_fees(hospital, start, end)
        total = sum((Decimal(f["price"]) for f in fees), Decimal("0.00"))
        return {"fee": fees, "count": len(fees), "total": f"{total:.2f}"}

    def _notices(self, request: Any, hospital: str) -> dict[str, Any]:
        since: datetime = request.since
        return answers.notices(self.centre.notices(since.replace(tzinfo=None)))


def _on_console(path: str) -> bool:
    return path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/")


class _Routed:
    """The centre's port: the console's pages under CONSOLE_PREFIX, the SOAP service elsewhere. An ASGI app, with the
    SOAP transport's direct path (`HttpTransport.direct`) for the service's requests on the lean server."""

    def __init__(self, soap: HttpTransport, console: Any) -> None:
        self.soap = soap
        self.console = console

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and _on_console(scope.get("path", "")):
            await self.console(scope, receive, send)
        else:
            await self.soap(scope, receive, send)

    def direct_accepts(self, method: str, query: bytes, headers: list[tuple[bytes, bytes]]) -> bool:
        return self.soap.direct_accepts(method, query, headers)

    def direct(self, method: str, path: str, query: bytes, headers: list[tuple[bytes, bytes]], body: bytes,
               client: tuple[str, int] | None) -> HttpReply | asyncio.Future[HttpReply] | None:
        """The service's request by a plain call; None (the ASGI app answers) for the console's."""
        return None if _on_console(path) else self.soap.direct(method, path, query, headers, body, client)
