"""What the proxy and replay tests share: a real upstream (`hih mock serve` in its own process), a proxy started on
a runtime in the test process, and a short business flow per interface driven by its reference connector.

The `hih mock serve` and `hih proxy` processes are forked from the test process's pre-imported one
(tests/forked_hih.py): these tests read what the servers answer, record and replay over their sockets, not how a
process starts; each is still a process of its own, with its command line, environment, folder and output pipes."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.contract import recording
from harness.contract.loader import ContractStore
from harness.proxy.core import Proxy, ProxyOptions, start
from harness.report.masking import Masker
from mocks.transport.runtime import Runtime
from tests.conftest import CONTRACTS
from tests.served import running_hih


@dataclass
class Upstream:
    """A `hih mock serve` process: its endpoint and its admin API."""

    where: str
    admin: str

    def journal(self, interface: str) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = httpx.get(f"{self.admin}{interface}/journal?limit=1000", timeout=5).json()[
            "entries"]
        return entries

    def population(self, interface: str) -> dict[str, Any]:
        found: dict[str, Any] = httpx.get(f"{self.admin}{interface}/population", timeout=5).json()
        return found

    def fault(self, interface: str, **fault: Any) -> None:
        httpx.post(f"{self.admin}{interface}/faults", json=fault, timeout=5).raise_for_status()

    def reset(self, interface: str) -> None:
        """The partner as just started: its journal emptied, its faults disarmed, its state seeded afresh."""
        httpx.post(f"{self.admin}{interface}/reset", timeout=5).raise_for_status()

    @property
    def address(self) -> tuple[str, int]:
        host, _, port = self.where.removeprefix("mllp://").removeprefix("http://").rpartition(":")
        return host, int(port)


@contextmanager
def mock_serve(interface: str, tmp_path: Path, *more: str) -> Iterator[Upstream]:
    """`hih mock serve --interface NAME` in its own process (run from `tmp_path`), until the block ends."""
    env = {k: v for k, v in os.environ.items() if k != "HIH_ADMIN_TOKEN"}
    with running_hih(["mock", "serve", "--interface", interface, *more], env, tmp_path) as (_, banner):
        yield Upstream(banner[interface], banner["admin"])


@contextmanager
def proxy_serve(interface: str, upstream: str, tmp_path: Path, *more: str) -> Iterator[dict[str, str]]:
    """`hih proxy --interface NAME --upstream WHERE` in its own process (run from `tmp_path`); yields its banner
    ({interface: where it listens, "admin": its admin API})."""
    env = {k: v for k, v in os.environ.items() if k != "HIH_ADMIN_TOKEN"}
    with running_hih(["proxy", "--interface", interface, "--upstream", upstream, *more], env, tmp_path) as (_, banner):
        yield banner


SHARED_UPSTREAM = pytest.mark.xdist_group("proxy_shared_upstreams")
"""The tests that use `insurance_upstream` or `blood_center_upstream`: on one xdist worker (`--dist loadgroup`), so
that each upstream process starts once for them, not once on every worker that gets one of them."""


@pytest.fixture(scope="module")
def _insurance_upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    with mock_serve("insurance", tmp_path_factory.mktemp("insurance-upstream")) as upstream:
        yield upstream


@pytest.fixture
def insurance_upstream(_insurance_upstream: Upstream) -> Upstream:
    """A `hih mock serve --interface insurance` process shared by the module's tests, reset before each (journal,
    faults, state), so each test sees a partner just started."""
    _insurance_upstream.reset("insurance")
    return _insurance_upstream


@pytest.fixture(scope="module")
def _blood_center_upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    with mock_serve("blood-center", tmp_path_factory.mktemp("blood-center-upstream")) as upstream:
        yield upstream


@pytest.fixture
def blood_center_upstream(_blood_center_upstream: Upstream) -> Upstream:
    """A `hih mock serve --interface blood-center` process shared by the module's tests, reset before each."""
    _blood_center_upstream.reset("blood-center")
    return _blood_center_upstream


@pytest.fixture
def runtime() -> Iterator[Runtime]:
    started = Runtime().start()
    yield started
    started.stop()


@pytest.fixture
def proxy_on(runtime: Runtime) -> Iterator[Callable[..., Proxy]]:
    """Start a proxy in this process (the options as `hih proxy` takes them); each is closed at the end."""
    started: list[Proxy] = []

    def make(interface: str, upstream: str, **options: Any) -> Proxy:
        proxy = start(ProxyOptions(interface, upstream, contracts_dir=CONTRACTS, **options), runtime, Masker())
        started.append(proxy)
        return proxy

    yield make
    for proxy in started:
        if proxy._listener is not None:
            runtime.call(proxy._listener.stop())
        if proxy.recorder is not None:
            proxy.recorder.close()


def recorded(folder: Path) -> list[recording.Exchange]:
    return recording.read(folder)[1]


# -- a short business flow per interface, through the reference connector --------------------------------------------
def insurance_flow(base_url: str, certno: str, otp: str = "OTP-PROXY-1") -> dict[str, Any]:
    """Sign in, query the person, register a visit, upload two fees, settle: what a day at the cashier does."""
    from connectors.insurance import InsuranceConnector
    from harness.ports.insurance import Certificate, FeeItem, InsuranceSettings
    from mocks.insurance import TEST_PAASID, TEST_SECRET

    contract = ContractStore(CONTRACTS).load("insurance")
    settings = InsuranceSettings(base_url=base_url, paasid=TEST_PAASID, secret=TEST_SECRET, timeout_s=5,
                                 contract_folder=str(contract.folder), contract_version=contract.version)
    connector = InsuranceConnector(settings)
    try:
        cert = Certificate("02", certno)
        person = connector.query_person(cert)
        visit = connector.register_visit(person, cert, otp)
        items = [FeeItem("F0001", "XJ01CAA040A001010100028", "H0001", "阿莫西林胶囊", Decimal("2"), Decimal("12.50"))]
        connector.upload_fees(visit, "B001", items)
        settlement = connector.settle(visit, cert, "B001", Decimal("25.00"))
        return {"psn_no": person.psn_no, "mdtrt_id": visit.mdtrt_id, "setl_id": settlement.setl_id,
                "medins_setl_id": settlement.medins_setl_id, "msgid": settlement.msgid}
    finally:
        connector.close()


def lis_flow(host: str, port: int) -> dict[str, Any]:
    """Register a patient and order a blood count."""
    from connectors.lis import reference
    from harness.ports.hl7 import Hl7Settings, Patient
    from harness.ports.lis import LabOrder

    contract = ContractStore(CONTRACTS).load("lis")
    connector = reference(Hl7Settings(host=host, port=port, timeout_s=5, retries=0, contract_version=contract.version,
                                      contract_folder=str(contract.folder)))
    try:
        patient = Patient("MR0001", "张三", "110101199003077777", "M", "19900307")
        delivered = connector.send_patient(patient)
        ordered = connector.place_order(LabOrder("P0001", patient))
        return {"adt": delivered.code, "order": ordered.code, "order_control": ordered.order_control,
                "filler_no": ordered.filler_no}
    finally:
        connector.close()


def blood_center_flow(wsdl_url: str, tmp_path: Path) -> dict[str, Any]:
    """Order two red-cell units, then read the order's feedback and the notices."""
    from connectors.blood_center import reference
    from harness.ports.blood_center import BloodCenterSettings, BloodOrder, OrderItem

    contract = ContractStore(CONTRACTS).load("blood-center")
    connector = reference(BloodCenterSettings(wsdl_url=wsdl_url, hospital_code="H32010200001",
                                              token="hih-blood-center-test-token", timeout_s=5,
                                              contract_folder=str(contract.folder),
                                              store_path=str(tmp_path / "bank.sqlite")))
    try:
        order = BloodOrder("XD20260101001", "ROUTINE", datetime(2030, 1, 1, 9, 0), "普外科", "李医生",
                           (OrderItem(1, "E0001", "A", "POS", Decimal("2"), "U"),))
        ack = connector.submit_order(order)
        feedback = connector.order_feedback(order.order_no)
        notices = connector.notices(datetime.now() - timedelta(days=30))
        return {"status": ack.status, "feedback": feedback.status, "notices": len(notices)}
    finally:
        connector.close()


def mch_flow(wsdl_url: str, tmp_path: Path) -> dict[str, Any]:
    """Log in, upload a birth-defect record, read its audit state: a day's reporting to the provincial platform."""
    from connectors.mch_platform import MchPlatformConnector
    from features.steps.mch_samples import sample
    from harness.ports.mch_platform import MchSettings
    from mocks.mch_platform import TEST_ORG_CODE, TEST_PASSWORD

    contract = ContractStore(CONTRACTS).load("mch-platform")
    connector = MchPlatformConnector(MchSettings(wsdl_url, TEST_ORG_CODE, TEST_PASSWORD, str(tmp_path / "outbox.sqlite"),
                                                 timeout_s=5, contract_folder=str(contract.folder)))
    try:
        uploaded = connector.upload(sample("BIRTH_DEFECT", "QX9001"))
        assert uploaded.record_id is not None, uploaded
        audit = connector.query(uploaded.record_id)
        return {"status": uploaded.status, "record_id": uploaded.record_id, "audit": audit.record_no}
    finally:
        connector.close()
