"""The reference insurance connector against a scripted platform (respx): the wire, retries, reversals, refusals."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx

from connectors import insurance as connector_module
from connectors import sequence as sequence_module
from connectors.insurance import InsuranceConnector, MsgIdSource
from harness.contract.http_json import HttpJsonValidator
from harness.contract.model import Contract
from harness.contract.signing import TifVerifier
from harness.ports.insurance import (
    Certificate,
    FeeItem,
    InsurancePort,
    InsuranceSettings,
    InvalidInput,
    Person,
    Refused,
    SettlementNotCompleted,
    SettlementUncertain,
    Unavailable,
    Visit,
)
from tests.conftest import CONTRACTS, DATA

BASE = "http://platform.test"
PAASID, SECRET = "PAAS-H330106", "unit-test-secret"
MSGID = re.compile(r"^H33010600001\d{14}\d{4}$")
CERTNO = "11010519491231002X"
VISIT = Visit("330100202403010000000001", "33010000000000000000000001", "OTP0001", "310", "330100")
CERT = Certificate("02", CERTNO)
Handler = Callable[[httpx.Request], httpx.Response]


def captured(infno: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((DATA / "captures" / f"{infno}-response.json").read_text(encoding="utf-8"))
    return document


def sent(request: httpx.Request) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(request.content)
    return body


def answer(infno: str) -> Handler:
    """The captured successful reply of `infno`; settlements echo the request msgid as medins_setl_id."""

    def handle(request: httpx.Request) -> httpx.Response:
        reply = captured(infno)
        if infno in ("2206", "2207"):
            reply["output"]["setlinfo"]["medins_setl_id"] = sent(request)["msgid"]
        return httpx.Response(200, json=reply)

    return handle


def refusal(err_msg: str) -> httpx.Response:
    return httpx.Response(200, json={"infcode": -1, "inf_refmsgid": None, "refmsg_time": "20240301120000000",
                                     "respond_time": "20240301120000001", "err_msg": err_msg, "output": None})


def empty_success() -> httpx.Response:
    return httpx.Response(200, json={"infcode": 0, "inf_refmsgid": "330100202403011200000000000001",
                                     "refmsg_time": "20240301120000000", "respond_time": "20240301120000001",
                                     "err_msg": "", "output": None})


def script(*steps: Handler | httpx.Response | Exception) -> Handler:
    """Answer successive requests with each step in turn (an exception is raised); the last step repeats."""
    calls = iter(range(10**6))

    def handle(request: httpx.Request) -> httpx.Response:
        step = steps[min(next(calls), len(steps) - 1)]
        if isinstance(step, Exception):
            raise step
        if isinstance(step, httpx.Response):
            return step
        return step(request)

    return handle


@pytest.fixture(scope="module")
def contract(contract_2024: Contract) -> Contract:
    return contract_2024


@pytest.fixture
def make() -> Iterator[Callable[..., InsuranceConnector]]:
    """Build connectors for BASE (closed at the end of the test)."""
    made: list[InsuranceConnector] = []

    def build(version: str = "2024.1", **settings: Any) -> InsuranceConnector:
        options: dict[str, Any] = {"base_url": BASE, "paasid": PAASID, "secret": SECRET, "timeout_s": 0.2,
                                   "contract_folder": str(CONTRACTS / "insurance" / version), **settings}
        connector = InsuranceConnector(InsuranceSettings(**options))
        made.append(connector)
        return connector

    yield build
    for connector in made:
        connector.close()


@pytest.fixture
def platform(contract: Contract) -> Iterator[Platform]:
    with respx.mock(base_url=BASE, assert_all_called=True) as router:
        yield Platform(router, contract)


class Platform:
    """respx routes by transaction, at the contract's paths."""

    def __init__(self, router: respx.MockRouter, contract: Contract) -> None:
        self.router = router
        self.contract = contract
        self.routes: dict[str, respx.Route] = {}

    def on(self, infno: str, handler: Handler) -> respx.Route:
        assert self.contract.http is not None
        route = self.router.post(f"{self.contract.http.base_path}/{self.contract.operations[infno].path}")
        route.mock(side_effect=handler)
        self.routes[infno] = route
        return route

    def bodies(self, infno: str) -> list[dict[str, Any]]:
        return [sent(call.request) for call in self.routes[infno].calls]


@pytest.fixture
def signed_connector(make: Callable[..., InsuranceConnector], platform: Platform) -> InsuranceConnector:
    """A connector that has signed in against the scripted platform."""
    platform.on("9001", answer("9001"))
    connector = make()
    connector.sign_in()
    return connector


def fee(sn: str = "F0001", cnt: str = "2", pric: str = "12.50", amount: str | None = None) -> FeeItem:
    return FeeItem(sn, "XJ01CAA040A001010100028", "H0001", "阿莫西林胶囊", Decimal(cnt), Decimal(pric),
                   Decimal(amount) if amount else None)


# -- msgids ------------------------------------------------------------------------------------------------------
def test_msgid_shape(contract: Contract) -> None:
    msgid = MsgIdSource("H33010600001").next()
    assert len(msgid) == 30 and MSGID.match(msgid)
    assert contract.formats["msgid"].matches(msgid)
    short = MsgIdSource("H3301").next()
    assert short.startswith("0000000H3301") and len(short) == 30


def test_ten_thousand_msgids_in_a_row_are_unique(contract: Contract) -> None:
    source = MsgIdSource("H33010600001")
    msgids = [source.next() for _ in range(10_000)]
    assert len(set(msgids)) == 10_000
    assert all(len(m) == 30 for m in msgids)
    assert msgids == sorted(msgids), "msgids only grow"


def test_a_restarted_source_does_not_repeat_the_msgids_sent_in_the_same_second(monkeypatch: pytest.MonkeyPatch) -> None:
    """A connector restarted within the second its predecessor sent in: the sequence follows the milliseconds."""
    moments = iter([datetime(2026, 3, 4, 10, 0, 0, 120_000)] * 5 + [datetime(2026, 3, 4, 10, 0, 0, 125_000)] * 5)

    class Clock(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return next(moments)

    monkeypatch.setattr(sequence_module, "datetime", Clock)
    first, restarted = MsgIdSource("H33010600001"), MsgIdSource("H33010600001")
    before = [first.next() for _ in range(5)]
    after = [restarted.next() for _ in range(5)]
    assert {m[12:26] for m in before + after} == {"20260304100000"}, "all in one second"
    assert not set(before) & set(after), (before, after)
    assert before + after == sorted(before + after), "msgids only grow, across the restart too"


def test_msgids_are_unique_across_threads() -> None:
    source = MsgIdSource("H33010600001")
    seen: list[str] = []
    lock = threading.Lock()

    def take() -> None:
        mine = [source.next() for _ in range(500)]
        with lock:
            seen.extend(mine)

    threads = [threading.Thread(target=take) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(seen)) == 2000


# -- the wire ----------------------------------------------------------------------------------------------------
def test_the_reference_connector_is_an_insurance_port(make: Callable[..., InsuranceConnector]) -> None:
    assert isinstance(make(), InsurancePort)
    default = connector_module.reference(InsuranceSettings(BASE, PAASID, SECRET,
                                                           contract_folder=str(CONTRACTS / "insurance" / "2024.1")))
    try:
        assert isinstance(default, InsuranceConnector) and default.contract.version == "2024.1"
        assert SECRET not in repr(default.settings), "settings never show the secret"
    finally:
        default.close()


def test_requests_carry_valid_tif_headers_and_a_valid_envelope(signed_connector: InsuranceConnector, platform: Platform,
                                                               contract: Contract) -> None:
    platform.on("1101", answer("1101"))

    person = signed_connector.query_person(CERT)

    assert person.psn_no == captured("1101")["output"]["baseinfo"]["psn_no"]
    assert person.balance == Decimal("1500.0") and person.insured
    assert contract.signing is not None
    verifier = TifVerifier(contract.signing, {PAASID: SECRET})
    calls = [*platform.routes["9001"].calls, *platform.routes["1101"].calls]
    for call in calls:
        request = call.request
        assert verifier.verify(request.headers) is None, dict(request.headers)
        assert request.headers["content-type"] == "application/json;charset=utf-8"
        assert "收费员".encode() in request.content, "UTF-8 on the wire, not \\u escapes"
    nonces = {call.request.headers["x-tif-nonce"] for call in calls}
    assert len(nonces) == len(calls)
    body = platform.bodies("1101")[0]
    assert body["infno"] == "1101" and MSGID.match(body["msgid"])
    assert body["sign_no"] == captured("9001")["output"]["signinoutb"]["sign_no"]
    assert body["input"]["data"] == {"mdtrt_cert_type": "02", "mdtrt_cert_no": CERTNO, "psn_cert_type": "01"}
    assert HttpJsonValidator(contract).validate_request(body).findings == []


def test_sign_in_and_sign_out(make: Callable[..., InsuranceConnector], platform: Platform) -> None:
    platform.on("9001", answer("9001"))
    platform.on("9002", answer("9001"))
    connector = make()

    signed = connector.sign_in()
    connector.sign_out()
    connector.sign_out()  # nothing to sign out from: nothing sent

    assert signed.sign_no == captured("9001")["output"]["signinoutb"]["sign_no"]
    assert platform.bodies("9001")[0]["sign_no"] == ""
    assert platform.routes["9002"].call_count == 1
    assert platform.bodies("9002")[0]["input"]["signOut"]["sign_no"] == signed.sign_no
    assert connector.sign_no is None


def test_first_business_call_signs_in_by_itself(make: Callable[..., InsuranceConnector], platform: Platform) -> None:
    platform.on("9001", answer("9001"))
    platform.on("1101", answer("1101"))
    make().query_person(CERT)
    assert platform.routes["9001"].call_count == 1 and platform.routes["1101"].call_count == 1


# -- retries -----------------------------------------------------------------------------------------------------
def test_idempotent_query_is_retried_after_a_timeout(signed_connector: InsuranceConnector, platform: Platform) -> None:
    platform.on("1101", script(httpx.ReadTimeout("no reply"), answer("1101")))

    person = signed_connector.query_person(CERT)

    assert person.certno
    msgids = [b["msgid"] for b in platform.bodies("1101")]
    assert len(msgids) == 2 and msgids[0] != msgids[1]


def test_idempotent_query_gives_up_after_three_tries(signed_connector: InsuranceConnector, platform: Platform) -> None:
    platform.on("1101", script(httpx.ReadTimeout("no reply")))

    with pytest.raises(Unavailable) as caught:
        signed_connector.query_person(CERT)

    assert caught.value.infno == "1101" and "no reply within 0.2 s" in caught.value.reason
    assert platform.routes["1101"].call_count == 3


def test_registration_is_not_retried_after_a_timeout_but_reversed(signed_connector: InsuranceConnector, platform: Platform) -> None:
    platform.on("2201", script(httpx.ReadTimeout("no reply")))
    platform.on("2601", lambda request: empty_success())
    person = Person(VISIT.psn_no, "张三", CERTNO, "1", "1949-12-31", "310", "330100", Decimal("0"), True)

    with pytest.raises(Unavailable):
        signed_connector.register_visit(person, CERT, "OTP0001")

    assert platform.routes["2201"].call_count == 1
    (reversal,) = platform.bodies("2601")
    assert reversal["input"]["data"] == {"psn_no": person.psn_no, "omsgid": platform.bodies("2201")[0]["msgid"],
                                         "oinfno": "2201"}
    assert reversal["insuplc_admdvs"] == "330100"


def test_fee_upload_lost_is_reversed_by_its_msgid(signed_connector: InsuranceConnector, platform: Platform) -> None:
    platform.on("2204", script(httpx.RemoteProtocolError("peer closed")))
    platform.on("2601", lambda request: empty_success())

    with pytest.raises(Unavailable):
        signed_connector.upload_fees(VISIT, "B001", [fee()])

    assert platform.routes["2204"].call_count == 1
    assert platform.bodies("2601")[0]["input"]["data"]["omsgid"] == platform.bodies("2204")[0]["msgid"]


def test_connect_error_is_retried_for_any_transaction(signed_connector: InsuranceConnector, platform: Platform) -> None:
    platform.on("2207", script(httpx.ConnectError("connection refused"), answer("2207")))

    settlement = signed_connector.settle(VISIT, CERT, "B001", Decimal("75.00"))

    bodies = platform.bodies("2207")
    assert len(bodies) == 2
    assert settlement.medfee_sumamt == Decimal("75.0")
    assert settlement.medins_setl_id == bodies[1]["msgid"]
    assert settlement.msgid == bodies[1]["msgid"], "the msgid the platform settled is the one to reverse later"


def test_a_settlement_that_could_not_connect_twice_is_sent_a_third_time(signed_connector: InsuranceConnector,
                                                                       platform: Platform) -> None:
    """A request that never left may be resent whatever the transaction: RETRIES resends, the same msgid."""
    platform.on("2207", script(httpx.ConnectError("refused"), httpx.ConnectError("refused"), answer("2207")))

    settlement = signed_connector.settle(VISIT, CERT, "B001", Decimal("75.00"))

    bodies = platform.bodies("2207")
    assert len(bodies) == 3
    assert {b["msgid"] for b in bodies} == {settlement.msgid}


def test_connect_error_on_every_try_is_unavailable_with_nothing_to_reverse(signed_connector: InsuranceConnector,
                                                                           platform: Platform) -> None:
    platform.on("1101", script(httpx.ConnectError("connection refused")))
    with pytest.raises(Unavailable, match="cannot connect"):
        signed_connector.query_person(CERT)
    assert platform.routes["1101"].call_count == 3


# -- a lost settlement -------------------------------------------------------------------------------------------
def test_lost_settlement_reply_is_reversed(signed_connector: InsuranceConnector, platform: Platform) -> None:
    platform.on("2207", script(httpx.ReadTimeout("no reply")))
    platform.on("2601", lambda request: empty_success())

    with pytest.raises(SettlementNotCompleted) as caught:
        signed_connector.settle(VISIT, CERT, "B001", Decimal("75.00"))

    settle_msgid = platform.bodies("2207")[0]["msgid"]
    assert caught.value.reversed is True and caught.value.msgid == settle_msgid
    assert platform.routes["2207"].call_count == 1, "a settlement is never resent"
    (reversal,) = platform.bodies("2601")
    assert reversal["input"]["data"] == {"psn_no": VISIT.psn_no, "omsgid": settle_msgid, "oinfno": "2207"}
    assert reversal["msgid"] != settle_msgid


def test_lost_settlement_never_processed(signed_connector: InsuranceConnector, platform: Platform) -> None:
    platform.on("2207", script(httpx.ReadTimeout("no reply")))
    platform.on("2601", lambda request: refusal("FSI-FMI返回：原交易不存在：omsgid … 未被成功处理，无需冲正"))

    with pytest.raises(SettlementNotCompleted) as caught:
        signed_connector.settle(VISIT, CERT, "B001", Decimal("75.00"))

    assert caught.value.reversed is False
    assert "never processed" in str(caught.value)


def test_lost_settlement_whose_reversal_is_unavailable_is_uncertain(signed_connector: InsuranceConnector, platform: Platform) -> None:
    platform.on("2207", script(httpx.ReadTimeout("no reply")))
    platform.on("2601", script(httpx.ReadTimeout("no reply")))

    with pytest.raises(SettlementUncertain) as caught:
        signed_connector.settle(VISIT, CERT, "B001", Decimal("75.00"))

    assert caught.value.msgid == platform.bodies("2207")[0]["msgid"]
    assert "the reversal did not get through either" in caught.value.reason
    assert platform.routes["2601"].call_count == 3, "the reversal is idempotent: retried"


def test_lost_settlement_whose_reversal_is_refused_is_uncertain(signed_connector: InsuranceConnector, platform: Platform) -> None:
    platform.on("2207", script(httpx.Response(503, text="Service Unavailable")))
    platform.on("2601", lambda request: refusal("FSI-FMI返回：该结算已退费，不能冲正"))

    with pytest.raises(SettlementUncertain):
        signed_connector.settle(VISIT, CERT, "B001", Decimal("75.00"))


def test_the_reversal_names_the_msgid_of_the_attempt_that_was_lost(signed_connector: InsuranceConnector, platform: Platform) -> None:
    """Connect error (never sent) on the first try, then a lost reply: the second msgid is the one to reverse."""
    platform.on("2207", script(httpx.ConnectError("connection refused"), httpx.ReadTimeout("no reply")))
    platform.on("2601", lambda request: empty_success())

    with pytest.raises(SettlementNotCompleted) as caught:
        signed_connector.settle(VISIT, CERT, "B001", Decimal("75.00"))

    lost = platform.bodies("2207")[1]["msgid"]
    assert platform.bodies("2601")[0]["input"]["data"]["omsgid"] == lost
    assert caught.value.msgid == lost


# -- refusals and broken replies ---------------------------------------------------------------------------------
def test_infcode_minus_1_is_refused_with_the_err_msg(signed_connector: InsuranceConnector, platform: Platform) -> None:
    platform.on("1101", lambda request: refusal("FSI-FMI返回：未查询到人员信息"))

    with pytest.raises(Refused) as caught:
        signed_connector.query_person(CERT)

    assert (caught.value.infno, caught.value.message) == ("1101", "FSI-FMI返回：未查询到人员信息")
    assert platform.routes["1101"].call_count == 1, "a refusal is an answer: not retried"


def test_gateway_error_shape_is_refused(signed_connector: InsuranceConnector, platform: Platform) -> None:
    platform.on("1101", lambda request: httpx.Response(200, json={"type": "error", "infcode": -1, "err_msg": "FSI-FSI-签名校验失败"}))
    with pytest.raises(Refused, match="签名校验失败"):
        signed_connector.query_person(CERT)


def test_http_503_on_a_query_is_retried_then_unavailable(signed_connector: InsuranceConnector, platform: Platform) -> None:
    platform.on("1101", script(httpx.Response(503, json={"type": "error", "infcode": -1, "err_msg": "busy"})))

    with pytest.raises(Unavailable) as caught:
        signed_connector.query_person(CERT)

    assert caught.value.reason == "HTTP 503 from the gateway"
    assert platform.routes["1101"].call_count == 3


def test_http_503_then_success_on_a_query(signed_connector: InsuranceConnector, platform: Platform) -> None:
    platform.on("1101", script(httpx.Response(503), answer("1101")))
    assert signed_connector.query_person(CERT).psn_no
    assert platform.routes["1101"].call_count == 2


def test_malformed_json_on_a_settlement_is_lost_and_reversed(signed_connector: InsuranceConnector, platform: Platform) -> None:
    platform.on("2207", script(httpx.Response(200, content=b'{"infcode":0,"output":{"setl')))
    platform.on("2601", lambda request: empty_success())

    with pytest.raises(SettlementNotCompleted) as caught:
        signed_connector.settle(VISIT, CERT, "B001", Decimal("75.00"))

    assert caught.value.reversed is True and "malformed reply (HTTP 200" in caught.value.reason


def test_reply_that_is_not_an_envelope(signed_connector: InsuranceConnector, platform: Platform) -> None:
    platform.on("1101", script(httpx.Response(200, json=["not", "an", "envelope"])))
    with pytest.raises(Unavailable, match="not an insurance envelope"):
        signed_connector.query_person(CERT)


def test_signs_in_again_when_the_platform_forgot_the_session(signed_connector: InsuranceConnector, platform: Platform) -> None:
    old = signed_connector.sign_no
    platform.routes["9001"].mock(side_effect=lambda request: httpx.Response(200, json={
        **captured("9001"), "output": {"signinoutb": {"sign_time": "2024-03-01 12:00:00", "sign_no": "330100202403010000002"}}}))
    platform.on("1101", script(refusal(f"FSI-FMI返回：签到流水号无效：sign_no {old} 不存在，请先签到（9001）"), answer("1101")))

    assert signed_connector.query_person(CERT).psn_no

    assert platform.routes["9001"].call_count == 2
    assert [b["sign_no"] for b in platform.bodies("1101")] == [old, "330100202403010000002"]
    assert signed_connector.sign_no == "330100202403010000002"


def test_signs_in_again_only_once(signed_connector: InsuranceConnector, platform: Platform) -> None:
    platform.on("1101", lambda request: refusal("FSI-FMI返回：签到流水号已签退：sign_no X，请重新签到（9001）"))
    with pytest.raises(Refused, match="已签退"):
        signed_connector.query_person(CERT)
    assert platform.routes["1101"].call_count == 2 and platform.routes["9001"].call_count == 2


# -- invalid input is refused before anything is sent ------------------------------------------------------------
def test_wrong_id_check_character_is_refused_before_any_request(make: Callable[..., InsuranceConnector]) -> None:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        router.route().mock(side_effect=answer("9001"))
        with pytest.raises(InvalidInput) as caught:
            make().query_person(Certificate("02", "110105194912310021"))
        assert router.calls.call_count == 0

    assert caught.value.field == "/input/data/mdtrt_cert_no"
    assert caught.value.message == "check character is 1, expected X"


def test_card_without_card_sn_is_refused_before_any_request_on_2024_1(make: Callable[..., InsuranceConnector]) -> None:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        router.route().mock(side_effect=answer("9001"))
        with pytest.raises(InvalidInput) as caught:
            make().query_person(Certificate("03", "A12345678"))
        assert router.calls.call_count == 0, [str(c.request.url) for c in router.calls]

    assert (caught.value.field, caught.value.message) == ("/input/data/card_sn", "required field is missing")


def test_card_without_card_sn_is_not_sent_by_a_signed_in_connector(signed_connector: InsuranceConnector, platform: Platform) -> None:
    with pytest.raises(InvalidInput, match="card_sn"):
        signed_connector.settle(VISIT, Certificate("03", "A12345678"), "B001", Decimal("75.00"))
    with pytest.raises(InvalidInput, match="card_sn"):
        signed_connector.query_person(Certificate("03", "A12345678"))
    assert platform.router.calls.call_count == 1, "only the sign-in went out"


def test_card_without_card_sn_is_sent_on_2023_1(make: Callable[..., InsuranceConnector], platform: Platform) -> None:
    platform.on("9001", answer("9001"))
    platform.on("1101", answer("1101"))
    make("2023.1").query_person(Certificate("03", "A12345678"))
    assert platform.bodies("1101")[0]["input"]["data"]["mdtrt_cert_type"] == "03"


def test_fee_line_whose_amount_is_not_count_times_price(signed_connector: InsuranceConnector, platform: Platform) -> None:
    with pytest.raises(InvalidInput) as caught:
        signed_connector.upload_fees(VISIT, "B001", [fee(amount="26.00")])
    assert caught.value.field == "feedetl_sn F0001"
    assert platform.router.calls.call_count == 1


def test_settlement_carries_pub_hosp_rfom_flag_and_echoes(signed_connector: InsuranceConnector, platform: Platform) -> None:
    platform.on("2206", answer("2206"))
    platform.on("2207", answer("2207"))

    pre = signed_connector.pre_settle(VISIT, CERT, "B001", Decimal("75.00"))
    done = signed_connector.settle(VISIT, CERT, "B001", Decimal("75.00"), use_account=False)

    assert "pub_hosp_rfom_flag" not in platform.bodies("2206")[0]["input"]["data"]
    settle_data = platform.bodies("2207")[0]["input"]["data"]
    assert settle_data["pub_hosp_rfom_flag"] == "1" and settle_data["acct_used_flag"] == "0"
    assert settle_data["medfee_sumamt"] == 75.0 and settle_data["mdtrt_id"] == VISIT.mdtrt_id
    assert pre.msgid == platform.bodies("2206")[0]["msgid"] == pre.medins_setl_id
    assert done.msgid == platform.bodies("2207")[0]["msgid"] == done.medins_setl_id
    assert done.fund_pay_sumamt + done.psn_part_amt == done.medfee_sumamt
