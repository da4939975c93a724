"""Shared fixtures of hih's own tests: contracts, a started insurance mock on a real loopback socket, a signed client.

The mock runs under uvicorn on the shared `Runtime` (port 0 on 127.0.0.1), started once per session and reset to its
seeded state before each test that asks for it. `wire` speaks the insurance protocol to it with raw httpx requests
signed by `harness.contract.signing.tif_headers`, so mock tests do not depend on the reference connector.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, settings

from harness.contract.loader import ContractStore
from harness.contract.model import Contract
from harness.contract.signing import tif_headers
from harness.run import warm
from mocks.insurance import TEST_PAASID, TEST_SECRET, InsuranceMock
from mocks.population import Person
from mocks.transport.runtime import Runtime
from tests.forkserver import ForkServer
from tests.strategies import BASE_EXAMPLES

# tests/data holds fixtures (captured messages, a tiny feature folder run by `hih run`, planted connectors): not tests
collect_ignore = ["data"]

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
pytest_plugins = ["tests.full_runs", "tests.scheduling", "tests.browser"]  # shared full runs; slow tests dealt first; one chromium
CONTRACTS = ROOT / "contracts"
FIXMEDINS = "H33010600001"

# Fee lines from the mock's catalogue: code, count, price (甲 drug, 乙 drug with 10 % self-pay, 甲 consultation fee).
FEES = [
    ("XJ01CAA040A001010100028", "2", "12.50"),
    ("XA10BAA002A001010100397", "1", "30.00"),
    ("001102000010000", "1", "20.00"),
]

# Hypothesis profiles. The default is `hih`: Hypothesis's own without its timing checks. Timing is not what a property
# test checks: on a loaded 2-core machine (the parallel pass's workers beside the runs they start, a CI runner) the
# deadline per example and the "input generation is slow" health check fail a test for the machine's load, not for a
# bug; Hypothesis's own `ci` profile (loaded when CI is set, derandomized) leaves both out too. The example database
# keeps a failure found locally in .hypothesis/ and tries it first next time. Each property test's count is its own
# (tests.strategies.examples), chosen by the bugs it exists to catch. `thorough`, for a nightly or pre-release run
# (`--hypothesis-profile=thorough`, or HYPOTHESIS_PROFILE=thorough), multiplies every count by ten and draws new
# examples each run even under CI, where it prints the blob that reproduces a failure.
settings.register_profile("hih", parent=settings.get_profile("default"), deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", parent=settings.get_profile("hih"), max_examples=10 * BASE_EXAMPLES,
                          derandomize=False, print_blob=True)
if os.environ.get("HYPOTHESIS_PROFILE"):
    settings.load_profile(os.environ["HYPOTHESIS_PROFILE"])
elif settings.get_current_profile_name() == "default":
    settings.load_profile("hih")

_sequence = itertools.count(1)


def new_msgid(prefix: str = FIXMEDINS) -> str:
    """A fresh msgid in the contract's format: fixmedins_code (12) + yyyyMMddHHmmss + 4-digit sequence."""
    return f"{prefix}{datetime.now():%Y%m%d%H%M%S}{next(_sequence) % 10_000:04d}"


def reaped(pid: int) -> bool:
    """Whether this process's child `pid` was already waited for, as the code under test should have: False for a
    child still running, and for one that had ended unwaited (a zombie, which this call then reaps)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def wait_for(predicate: Callable[[], Any], timeout: float = 3.0) -> Any:
    """Poll `predicate` every 5 ms until it is truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.005)


def envelope(infno: str, data: dict[str, Any], msgid: str | None = None, sign_no: str = "",
             insuplc_admdvs: str | None = None) -> dict[str, Any]:
    """A request envelope (公共输入参数) around `data`, as a hospital sends it."""
    body: dict[str, Any] = {
        "infno": infno, "msgid": msgid or new_msgid(), "mdtrtarea_admvs": "330100", "recer_sys_code": "YBXT",
        "infver": "V1.0", "opter_type": "1", "opter": "100234", "opter_name": "收费员王五",
        "inf_time": f"{datetime.now():%Y-%m-%d %H:%M:%S}", "fixmedins_code": FIXMEDINS,
        "fixmedins_name": "示例市第一人民医院", "sign_no": sign_no, "input": data,
    }
    if insuplc_admdvs:
        body["insuplc_admdvs"] = insuplc_admdvs
    return body


# -- contracts ----------------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def fork_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForkServer]:
    """This test process's fork server (tests/forkserver.py), started at the first run that needs it."""
    server = ForkServer(tmp_path_factory.mktemp("fork-server"))
    yield server
    server.close()


PRODUCT_START = (warm.take, warm.prestart)
"""How `hih run` starts its pytest processes: a warm process started ahead, else a fresh one."""


@pytest.fixture(scope="session", autouse=True)
def forked_runs(fork_server: ForkServer) -> Iterator[None]:
    """The pytest processes of the in-process `hih run`s (the shared runs of tests/full_runs.py too), forked from
    the fork server rather than started afresh (tests/forkserver.py says what stays real); none started ahead as a
    warm process, which the fork makes needless."""

    def take(argv: list[str], log: Path) -> subprocess.Popen[bytes] | None:
        env = warm.child_env()
        return warm.track(fork_server.fork(argv, log, env), env)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(warm, "take", take)
        patch.setattr(warm, "prestart", lambda: None)
        yield


@pytest.fixture(autouse=True)
def _fresh_processes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests marked `fresh_processes` (those of the warm process itself) keep the product's own start."""
    if request.node.get_closest_marker("fresh_processes") is not None:
        monkeypatch.setattr(warm, "take", PRODUCT_START[0])
        monkeypatch.setattr(warm, "prestart", PRODUCT_START[1])


@pytest.fixture(scope="session")
def store() -> ContractStore:
    return ContractStore(CONTRACTS)


@pytest.fixture(scope="session")
def contract_2024(store: ContractStore) -> Contract:
    return store.load("insurance", "2024.1")


@pytest.fixture(scope="session")
def contract_2023(store: ContractStore) -> Contract:
    return store.load("insurance", "2023.1")


@pytest.fixture
def contract_copy(tmp_path: Path) -> Path:
    """A writable copy of contracts/insurance/2024.1 at tmp_path/insurance/2024.1, to break on purpose."""
    target = tmp_path / "insurance" / "2024.1"
    shutil.copytree(CONTRACTS / "insurance" / "2024.1", target)
    return target


# -- the mock on a real socket ------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def runtime() -> Iterator[Runtime]:
    rt = Runtime().start()
    yield rt
    rt.stop()


@pytest.fixture(scope="session")
def _mock_2024(runtime: Runtime, contract_2024: Contract) -> InsuranceMock:
    mock = InsuranceMock(contract_2024)
    mock.start(runtime, "127.0.0.1", 0)
    return mock


@pytest.fixture(scope="session")
def _mock_2023(runtime: Runtime, contract_2023: Contract) -> InsuranceMock:
    mock = InsuranceMock(contract_2023)
    mock.start(runtime, "127.0.0.1", 0)
    return mock


@pytest.fixture
def mock(_mock_2024: InsuranceMock) -> InsuranceMock:
    """The insurance mock (contract 2024.1) listening on 127.0.0.1, reset to its seeded state."""
    _mock_2024.reset()
    return _mock_2024


@pytest.fixture
def mock_2023(_mock_2023: InsuranceMock) -> InsuranceMock:
    """The insurance mock on contract 2023.1, reset."""
    _mock_2023.reset()
    return _mock_2023


class Wire:
    """A hospital-side client that builds envelopes by hand and signs each request with TIF headers."""

    def __init__(self, mock: InsuranceMock, timeout: float = 5.0) -> None:
        assert mock.endpoint is not None and mock.contract.http is not None
        self.mock = mock
        self.contract = mock.contract
        self.base = mock.contract.http.base_path.rstrip("/")
        self.http = httpx.Client(base_url=mock.endpoint.url, timeout=timeout)
        self.sign_no = ""

    def close(self) -> None:
        self.http.close()

    def path(self, infno: str) -> str:
        return f"{self.base}/{self.contract.operations[infno].path}"

    def headers(self, secret: str = TEST_SECRET, paasid: str = TEST_PAASID) -> dict[str, str]:
        return {**tif_headers(self.contract.signing, paasid, secret), "Content-Type": "application/json;charset=utf-8"}

    def envelope(self, infno: str, data: dict[str, Any], msgid: str | None = None, sign_no: str | None = None,
                 insuplc_admdvs: str | None = None) -> dict[str, Any]:
        return envelope(infno, data, msgid, self.sign_no if sign_no is None else sign_no, insuplc_admdvs)

    def post(self, infno: str, data: dict[str, Any], *, msgid: str | None = None, sign_no: str | None = None,
             insuplc_admdvs: str | None = None, timeout: float | None = None) -> httpx.Response:
        body = self.envelope(infno, data, msgid, sign_no, insuplc_admdvs)
        kwargs: dict[str, Any] = {"timeout": timeout} if timeout is not None else {}
        return self.http.post(self.path(infno), content=json.dumps(body, ensure_ascii=False).encode(),
                              headers=self.headers(), **kwargs)

    def call(self, infno: str, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        response = self.post(infno, data, **kwargs)
        assert response.status_code == 200, response.text
        reply: dict[str, Any] = response.json()
        return reply

    def ok(self, infno: str, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        reply = self.call(infno, data, **kwargs)
        assert reply["infcode"] == 0, reply["err_msg"]
        return reply

    # -- the steps of an outpatient visit ---------------------------------------------------------------------
    def sign_in(self) -> str:
        reply = self.ok("9001", {"signIn": {"opter_no": "100234", "mac": "00-16-3E-00-00-01", "ip": "10.0.0.10"}})
        self.sign_no = reply["output"]["signinoutb"]["sign_no"]
        return self.sign_no

    @staticmethod
    def register_input(person: Person, ipt_otp_no: str) -> dict[str, Any]:
        return {"data": {"psn_no": person.psn_no, "insutype": person.insutype,
                         "begntime": f"{datetime.now():%Y-%m-%d %H:%M:%S}", "mdtrt_cert_type": "02",
                         "mdtrt_cert_no": person.certno, "ipt_otp_no": ipt_otp_no, "atddr_no": "D001",
                         "dr_name": "李医生", "dept_code": "A03", "dept_name": "内科", "caty": "A03"}}

    def register(self, person: Person, ipt_otp_no: str = "OTP0001") -> str:
        reply = self.ok("2201", self.register_input(person, ipt_otp_no), insuplc_admdvs=person.insuplc_admdvs)
        mdtrt_id: str = reply["output"]["data"]["mdtrt_id"]
        return mdtrt_id

    @staticmethod
    def fee_input(person: Person, mdtrt_id: str, batch: str = "B001",
                  fees: list[tuple[str, str, str]] | None = None, first_sn: int = 1) -> dict[str, Any]:
        lines = []
        for n, (code, cnt, pric) in enumerate(fees or FEES, start=first_sn):
            lines.append({
                "feedetl_sn": f"F{n:04d}", "mdtrt_id": mdtrt_id, "psn_no": person.psn_no, "chrg_bchno": batch,
                "rx_circ_flag": "0", "fee_ocur_time": f"{datetime.now():%Y-%m-%d %H:%M:%S}", "med_list_codg": code,
                "medins_list_codg": f"H{n:04d}", "det_item_fee_sumamt": float(Decimal(cnt) * Decimal(pric)),
                "cnt": float(cnt), "pric": float(pric), "bilg_dept_codg": "A03", "bilg_dept_name": "内科",
                "bilg_dr_codg": "D001", "bilg_dr_name": "李医生", "hosp_appr_flag": "1",
            })
        return {"feedetail": lines}

    def upload(self, person: Person, mdtrt_id: str, batch: str = "B001",
               fees: list[tuple[str, str, str]] | None = None) -> dict[str, Any]:
        return self.ok("2204", self.fee_input(person, mdtrt_id, batch, fees), insuplc_admdvs=person.insuplc_admdvs)

    @staticmethod
    def settle_input(person: Person, mdtrt_id: str, total: Decimal, batch: str = "B001",
                     use_account: bool = True, pub_hosp_rfom_flag: str | None = "1") -> dict[str, Any]:
        data: dict[str, Any] = {
            "psn_no": person.psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": person.certno, "med_type": "11",
            "medfee_sumamt": float(total), "psn_setlway": "01", "mdtrt_id": mdtrt_id, "chrg_bchno": batch,
            "acct_used_flag": "1" if use_account else "0", "insutype": person.insutype,
        }
        if pub_hosp_rfom_flag is not None:
            data["pub_hosp_rfom_flag"] = pub_hosp_rfom_flag
        return {"data": data}

    def reverse_input(self, person: Person, omsgid: str, oinfno: str) -> dict[str, Any]:
        return {"data": {"psn_no": person.psn_no, "omsgid": omsgid, "oinfno": oinfno}}


FEES_TOTAL = sum((Decimal(c) * Decimal(p) for _, c, p in FEES), Decimal(0))


@pytest.fixture
def wire(mock: InsuranceMock) -> Iterator[Wire]:
    """A signed client of the 2024.1 mock (not yet signed in)."""
    client = Wire(mock)
    yield client
    client.close()


@pytest.fixture
def signed_in(wire: Wire) -> Wire:
    """`wire` after a successful 9001 sign-in."""
    wire.sign_in()
    return wire


@pytest.fixture
def employee(mock: InsuranceMock) -> Person:
    """The seeded employee (职工医保, personal account 1500.00)."""
    return mock.person("employee")


def line_of(path: Path, needle: str) -> int:
    """1-based line of the only occurrence of `needle` in the file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    hits = [i + 1 for i, line in enumerate(lines) if needle in line]
    assert len(hits) == 1, f"{needle!r} must be on exactly one line of {path}: {hits}"
    return hits[0]


def edit(path: Path, old: str, new: str) -> None:
    """Replace the one occurrence of `old` in a file (used to break copies of contracts)."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} must occur once in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")
