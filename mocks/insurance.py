"""The national medical-insurance platform, played from its contract: gateway, signing, validation and the ledger.

Every request is checked against the contract (envelope, transaction schema, rules); an invalid one is answered
with infcode -1 and an err_msg that names the field. Valid requests drive a ledger of sign-ins, visits, fee details,
settlements and reversals kept in the mock's store.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from harness.contract import jsonsafe
from harness.contract.findings import Finding, Severity
from harness.contract.http_json import HttpJsonValidator, variant_base
from harness.contract.model import Contract
from harness.contract.signing import TifVerifier
from mocks.base import MockService
from mocks.clock_checks import json_stamps
from mocks.fen import decimal, fen_text, fixed, share, times, to_fen, yuan
from mocks.insurance_checks import insured_area_problem, people_named
from mocks.insurance_store import InsuranceLogStore
from mocks.population import Person, generate
from mocks.state import Store
from mocks.transport.http import HttpReply, HttpRequest, HttpTransport
from mocks.transport.journal import Exchange
from mocks.transport.limits import Refusal

TEST_PAASID = "HIH_TEST_PAAS"
TEST_SECRET = "hih-test-secret-not-for-production"

# A small medical-insurance catalogue: list code -> (name, class 甲01/乙02/丙03, charge item type, price ceiling in fen)
CATALOGUE: dict[str, tuple[str, str, str, int | None]] = {
    "XJ01CAA040A001010100028": ("阿莫西林胶囊", "01", "09", 3000),
    "XN02BEA018A001010100373": ("对乙酰氨基酚片", "01", "09", None),
    "XC09AAA056A001010105346": ("卡托普利片", "01", "09", None),
    "XA10BAA002A001010100397": ("二甲双胍缓释片", "02", "09", None),
    "XR05CBA192A001020100186": ("氨溴索口服溶液", "02", "09", None),
    "ZA04BAA0118010103459": ("连花清瘟胶囊", "02", "11", None),
    "001102000010000": ("普通门诊诊察费", "01", "02", 2000),
    "250101015000000": ("血细胞分析（血常规）", "01", "04", None),
    "250305001000000": ("C反应蛋白测定", "01", "04", None),
    "210102015000000": ("胸部X线摄影", "01", "03", None),
    "120400006000000": ("静脉输液", "01", "05", None),
    "330000000999999": ("美容整形项目（自费）", "03", "14", None),
}
SELF_PAY = {"01": 0, "02": 10, "03": 100}
"""The share (in per cent) the patient pays first, by catalogue class."""
FUND_RATIO = {"310": 70, "390": 50}
"""The pooled fund's share (in per cent) of the in-scope amount, by insurance type; 60 % for any other."""
_JSON_REFUSED_ZH = {"encoding": "不是 UTF-8 编码（第 {column} 字节）", "syntax": "JSON 格式错误（第 {line} 行第 {column} 列）",
                    "depth": "JSON 嵌套过深", "number": "JSON 数值无法识别"}
FUND_TYPE = {"310": ("310100", "职工基本医疗保险统筹基金"), "390": ("390100", "城乡居民基本医疗保险基金")}


@dataclass
class Answer:
    """What a transaction handler returns: the `output` object (None for write-only transactions), what the
    message created or touched (kept by msgid so a 2601 can find it), and an optional warn_msg."""

    output: dict[str, Any] | None = None
    ref: Any = None
    warn: str | None = None


class BusinessError(Exception):
    """The platform refuses the transaction: answered with infcode -1 and this text as err_msg."""


def money(value: Any) -> Decimal:
    """An amount as a `Decimal` rounded half up at the fen (what the ledger computes in whole fen)."""
    return decimal(to_fen(value))


class InsuranceMock(MockService):
    """The insurance platform's behaviour behind the HTTP transport."""

    interface = "insurance"
    transport = "http"
    shares_state = True
    shared_store = InsuranceLogStore
    lean_http = True
    auto_workers = 1
    """Two workers served no more settlements than one on the 2-core machine with the load client on it (64
    connections, interleaved: 3,806 and 3,931/s against 3,582 and 3,915/s, p99 worse) while using 1.6 times the CPU
    (bench/RESULTS.md, "Re-measured after the evening's work"); with the direct path they still cost 1.6–1.9 times
    one process's CPU per settlement over a socket (1.33 times its instructions), so one stays the default
    ("Insurance mock: the direct path ..."); `--workers 2` stays available."""
    growing = {
        "visits": lambda visit: visit.get("status") != "registered",  # settled, cancelled or reversed
        "settlements": None, "messages": None, "otp_numbers": None,
        "sessions": lambda session: not session.get("active"),
    }

    def __init__(self, contract: Contract, store: Store | None = None, journal_capacity: int = 10_000,
                 credentials: dict[str, str] | None = None, admdvs: str = "330100") -> None:
        self.validator = HttpJsonValidator(contract)
        self.admdvs = admdvs
        self.credentials = credentials or {
            os.environ.get("HIH_INSURANCE_PAASID", TEST_PAASID): os.environ.get("HIH_INSURANCE_SECRET", TEST_SECRET)
        }
        self.verifier = TifVerifier(contract.signing, self.credentials) if contract.signing and contract.signing.scheme == "tif" else None
        self._serial = itertools.count(1)
        self._publish_nonces: Callable[[], None] | None = None
        self._second: tuple[tuple[int, ...], str, str] = ((), "", "")
        """The last second `_texts` formatted (one tuple, replaced whole: other threads may read it meanwhile)."""
        self.population: list[Person] = generate()
        self._by_psn_no = {p.psn_no: p for p in self.population}
        self._by_cert = {("02", p.certno): p for p in self.population}
        self._by_cert.update({("03", p.card_no): p for p in self.population})
        self._by_cert.update({("01", p.ec_token): p for p in self.population})
        assert contract.http is not None
        base = contract.http.base_path.rstrip("/")
        self._routes = {f"{base}/{op.path}": key for key, op in contract.operations.items()}
        self._single = f"{base}/{contract.http.single_endpoint.strip('/')}" if contract.http.single_endpoint else None
        answer = contract.schemas.get(contract.envelope.get("response", ""), {}).get("properties", {})
        self._err_max: int | None = answer.get("err_msg", {}).get("maxLength")
        self._handlers: dict[str, Callable[[dict[str, Any], dict[str, Any]], Answer]] = {
            "9001": self._sign_in, "9002": self._sign_out, "1101": self._query_person,
            "2201": self._register, "2202": self._cancel_registration, "2203": self._visit_info,
            "2204": self._upload_fees, "2205": self._cancel_fees, "2206": self._pre_settle,
            "2207": self._settle, "2208": self._cancel_settlement, "2601": self._reverse,
        }
        """By transaction; a variant (2207A) is handled as the transaction it is a form of."""
        super().__init__(contract, store, journal_capacity)
        self.faults.families = {key: family for key in contract.operations
                                if (family := variant_base(contract, key)) is not None and family != key}

    # -- seeded data and lookups for steps ----------------------------------------------------------------
    def seed(self) -> None:
        if self.store.count("balances") == 0:
            with self.store.transaction():
                for p in self.population:
                    self.store.put("balances", p.psn_no, p.balc)

    def seed_key(self) -> Hashable:
        """The seeded balances are the population's, made with the mock: the same at every reset."""
        return ()

    def person(self, role: str = "employee") -> Person:
        """The first seeded person with this role (employee, resident, suspended, low-balance, regular)."""
        for p in self.population:
            if p.role == role:
                return p
        raise KeyError(f"no seeded person with role {role!r}")

    def extra_endpoints(self) -> dict[str, str]:
        """What `hih mock serve` announces beside the base URL: where the transactions are posted."""
        if self.endpoint is None or self.contract.http is None:
            return {}
        base = self.contract.http.base_path.rstrip("/")
        single = f"{self.endpoint.url}{self._single} (every infno), " if self._single else ""
        return {"api": f"{single}{self.endpoint.url}{base}/<service>/<method> (one path per infno)"}

    def accepts(self) -> dict[str, str]:
        from mocks.self_service import shown_secret

        paasid, secret = next(iter(self.credentials.items()))
        return {"paasid": paasid, "secret": shown_secret(secret, TEST_SECRET, "HIH_INSURANCE_SECRET"),
                "mdtrtarea_admvs": self.admdvs}

    def population_data(self) -> dict[str, Any]:
        """The 200 synthetic people (with their cards, e-certificate tokens and current balance), the catalogue the
        fee lines are priced from, and the visits and settlements on the ledger (newest 1,000 of each)."""
        from mocks.self_service import MAX_POPULATION_ROWS

        people = [{**p.to_dict(), "balc": f"{self.balance(p.psn_no):.2f}"} for p in self.population]
        return {
            "interface": self.interface, "contract": self.contract.version, "people": people,
            "catalogue": [{"med_list_codg": code, "name": name, "chrgitm_lv": level, "med_chrgitm_type": kind,
                           "max_price": None if ceiling is None else f"{ceiling:.2f}"}
                          for code, (name, level, kind, ceiling) in CATALOGUE.items()],
            "visits": self.visits()[-MAX_POPULATION_ROWS:], "settlements": self.settlements()[-MAX_POPULATION_ROWS:],
        }

    def balance(self, psn_no: str) -> Decimal:
        return decimal(self._balance(psn_no))

    def _balance(self, psn_no: str) -> int:
        return to_fen(self.store.peek("balances", psn_no))

    def settlements(self, mdtrt_id: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
        rows = [v for _, v in self.store.items("settlements")]
        return [r for r in rows if (mdtrt_id is None or r["mdtrt_id"] == mdtrt_id) and (status is None or r["status"] == status)]

    def visits(self, psn_no: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
        """Visits on the ledger, by person and status (registered, settled, cancelled, reversed)."""
        rows = [v for _, v in self.store.items("visits")]
        return [r for r in rows if (psn_no is None or r["psn_no"] == psn_no) and (status is None or r["status"] == status)]

    def expire_sessions(self) -> int:
        """End every open sign-in as the platform does at the end of its session window; returns how many."""
        expired = 0
        with self.store.transaction():
            for sign_no, session in self.store.items("sessions"):
                if session["active"]:
                    self.store.put("sessions", sign_no, {**session, "active": False, "expired": True})
                    expired += 1
        return expired

    def forget_sessions(self) -> int:
        """Lose every sign-in, as a platform restarted without its session table does; returns how many."""
        with self.store.transaction():
            gone = [sign_no for sign_no, _ in self.store.items("sessions")]
            for sign_no in gone:
                self.store.delete("sessions", sign_no)
        return len(gone)

    def transaction_of(self, operation: str | None) -> str | None:
        """The transaction `operation` is a form of (2207 for 2207A), `operation` itself for any other."""
        return variant_base(self.contract, operation)

    def visit(self, mdtrt_id: str) -> dict[str, Any] | None:
        value: dict[str, Any] | None = self.store.get("visits", mdtrt_id)
        return value

    # -- transport glue --------------------------------------------------------------------------------
    def asgi_app(self) -> HttpTransport:
        return HttpTransport(self, self.journal, self.faults)

    def identify(self, request: HttpRequest) -> str | None:
        key = self._routes.get(request.path)
        if key is None and request.path == self._single:
            try:
                infno = json.loads(request.body).get("infno")
            except (ValueError, AttributeError):
                return None
            return infno if isinstance(infno, str) else None
        return key

    def share(self, index: int, workers: int, state: Path) -> None:
        from mocks.insurance_store import LogNonces

        self._serial = itertools.count(index + 1, workers)
        if self.verifier is not None and isinstance(self.store, InsuranceLogStore):
            self.verifier.nonces = LogNonces(self.store)  # type: ignore[assignment]  # a replay to another worker is refused too
            self._publish_nonces = self.store.flush_nonces

    def _now(self) -> datetime:
        return self.clock()

    def _texts(self, now: datetime) -> tuple[str, str]:
        """`now` as yyyyMMddHHmmss and as yyyy-MM-dd HH:mm:ss, formatted once a second: a settlement's reply, ids and
        stamps need them five times, and strftime was a twentieth of its CPU."""
        cached = self._second
        key = (now.second, now.minute, now.hour, now.day, now.month, now.year)
        if cached[0] != key:
            cached = self._second = (key, f"{now:%Y%m%d%H%M%S}", f"{now:%Y-%m-%d %H:%M:%S}")
        return cached[1], cached[2]

    def _serial_id(self, width: int = 10) -> str:
        return f"{next(self._serial) % 10**width:0{width}d}"

    def _json(self, body: dict[str, Any], status: int = 200) -> HttpReply:
        # orjson's bytes keep the whole buffer it wrote into (32 KiB here, for a 2.5 KB reply) for as long as they
        # live, and the journal keeps every reply: copied to their length, 10,000 journaled replies weigh 25 MB, not
        # 320 MB (the copy costs less than freeing the buffer later)
        return HttpReply(status, memoryview(orjson.dumps(body)).tobytes(), parsed=body)

    def _gateway_error(self, message: str, status: int = 200) -> HttpReply:
        body = {"type": "error", "infcode": -1, "err_msg": f"FSI-FSI-{message},异常流水号:{self._serial_id()}"}
        reply = self._json(body, status)
        reply.findings = self.validator.validate_response(body, None).findings
        return reply

    def _envelope(self, infcode: int, output: Any, err_msg: str | None, received: datetime, warn: str | None = None) -> dict[str, Any]:
        now = self._now()
        if err_msg and self._err_max and len(err_msg) > self._err_max:
            err_msg = err_msg[: self._err_max - 1] + "…"  # a message quoting a hostile value still fits the contract
        return {
            "infcode": infcode,
            "inf_refmsgid": f"{self.admdvs}{self._texts(now)[0]}{self._serial_id()}" if infcode == 0 else None,
            "refmsg_time": f"{self._texts(received)[0]}{received.microsecond // 1000:03d}",
            "respond_time": f"{self._texts(now)[0]}{now.microsecond // 1000:03d}",
            "err_msg": err_msg,
            "warn_msg": warn,
            "cainfo": None,
            "signtype": None,
            "output": output,
        }

    def error_reply(self, request: HttpRequest, operation: str | None, message: str) -> HttpReply:
        body = self._envelope(-1, None, f"FSI-FMI返回：{message}", self._now())
        reply = self._json(body)
        reply.findings = self.validator.validate_response(body, operation).findings
        return reply

    def status_reply(self, request: HttpRequest, status: int, message: str) -> HttpReply:
        return self._gateway_error(message, status)

    def refuse(self, request: HttpRequest, refusal: Refusal) -> HttpReply:
        """The gateway's refusal of a request over the input limits (size, depth, Content-Type), with its status."""
        return self._gateway_error(f"交易报文不正确：{refusal.zh}", refusal.status)

    def _inspect(self, request: HttpRequest, exchange: Exchange, remember: bool = True) -> HttpReply | tuple[Any, Any]:
        """Route, signature, JSON and contract checks; an early reply, or (body, checked) to go on with."""
        if request.method != "POST":
            return self._gateway_error(f"只接受 POST 请求：{request.method} {request.path}", 405)
        expected = self._routes.get(request.path)
        if expected is None and request.path != self._single:
            return self._gateway_error(f"交易报文不正确：未知交易编号！路径 {request.path}")
        now = self.clock()
        if self.verifier is not None:
            problem = self.verifier.verify(request.headers, now=now.timestamp(), remember=remember)
            if problem is not None:
                exchange.request_findings = [Finding(Severity.ERROR, problem.header, problem.message, "signature"),
                                             *self._stamps(request.body)]
                return self._gateway_error(f"签名校验失败：{problem.message}")
        try:
            limit = self.contract.limits.max_depth or jsonsafe.DEFAULT_MAX_DEPTH
            body = jsonsafe.loads(request.body, limit, depth_checked=0 < request.depth_checked <= limit)
        except jsonsafe.JsonRefused as exc:
            exchange.request_findings = [Finding(Severity.ERROR, "", exc.message, "json")]
            return self._gateway_error(f"交易报文不正确：{_JSON_REFUSED_ZH[exc.reason].format(line=exc.line, column=exc.column)}")
        exchange.request = body
        checked = self.validator.validate_request(body, expected)
        exchange.request_findings = checked.findings + json_stamps(self.contract, checked.operation, body, now)
        exchange.operation = checked.operation or exchange.operation
        return body, checked

    def _stamps(self, raw: bytes) -> list[Finding]:
        """The clock_skew findings of a request refused before its body was read (a gateway refusal)."""
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return []
        infno = body.get("infno") if isinstance(body, dict) else None
        return json_stamps(self.contract, infno if isinstance(infno, str) else None, body, self.clock())

    def inspect(self, request: HttpRequest, exchange: Exchange) -> None:
        """Journal what a request is and how it fits the contract, without acting on it (faults that drop it)."""
        self._inspect(request, exchange, remember=False)

    async def handle(self, request: HttpRequest, exchange: Exchange) -> HttpReply:
        return self.handle_now(request, exchange)

    def handle_now(self, request: HttpRequest, exchange: Exchange) -> HttpReply:
        """`handle` as a plain call: nothing in a transaction waits (the lean server's direct path)."""
        reply = self._handle(request, exchange)
        if self._publish_nonces is not None:  # served by several processes: the others refuse this nonce from now on
            self._publish_nonces()
        return reply

    def _handle(self, request: HttpRequest, exchange: Exchange) -> HttpReply:
        received = self._now()
        inspected = self._inspect(request, exchange)
        if isinstance(inspected, HttpReply):
            return inspected
        body, checked = inspected
        operation = checked.operation
        errors = [f for f in checked.findings if f.severity is Severity.ERROR]
        if operation is None:
            return self._gateway_error(f"交易报文不正确：未知交易编号！infno={body.get('infno') if isinstance(body, dict) else None}")
        if errors:
            first = errors[0]
            more = f"（另有 {len(errors) - 1} 处）" if len(errors) > 1 else ""
            return self._answer(body, operation, None, f"FSI-交易报文不正确：{first.location} {first.message}{more}", received)
        handler = self._handlers[variant_base(self.contract, operation) or operation]
        people = people_named(body)

        def settle_state() -> Answer:
            self._check_envelope(body, operation, people)
            answer = handler(body, body["input"])
            self._remember(body, operation, answer.ref)
            return answer

        try:
            store = self.store
            # served by several processes, one person's transactions run one at a time across them
            answer = store.atomic_for(people, settle_state) if type(store) is InsuranceLogStore else store.atomic(settle_state)
        except BusinessError as exc:
            self._remember_failure(body, operation)
            return self._answer(body, operation, None, f"FSI-FMI返回：{exc}", received)
        return self._answer(body, operation, answer.output, "success" if operation in ("9001", "9002") else "", received,
                            answer.warn)

    def _answer(self, request: dict[str, Any], operation: str, output: Any, err_msg: str | None,
                received: datetime, warn: str | None = None) -> HttpReply:
        body = self._envelope(0 if err_msg in ("", "success") else -1, output, err_msg, received, warn)
        reply = self._json(body)
        reply.findings = self.validator.validate_response(body, operation, request).findings
        return reply

    # -- envelope semantics ----------------------------------------------------------------------------
    def _check_envelope(self, body: dict[str, Any], operation: str, people: list[str] | None = None) -> None:
        if self.store.peek("messages", body["msgid"]) is not None:
            raise BusinessError(f"报文ID重复：msgid {body['msgid']} 已处理，不能重复提交")
        area = insured_area_problem(body, self._by_psn_no, people)
        if area:
            raise BusinessError(area)
        op = self.contract.operations[operation]
        if op.extra.get("requires_sign_no", True):
            session = self.store.peek("sessions", body.get("sign_no", ""))
            if session is None:
                raise BusinessError(f"签到流水号无效：sign_no {body.get('sign_no')} 不存在，请先签到（9001）")
            if session.get("expired"):
                raise BusinessError(f"签到流水号无效：sign_no {body.get('sign_no')} 会话已过期，请重新签到（9001）")
            if not session["active"]:
                raise BusinessError(f"签到流水号已签退：sign_no {body.get('sign_no')}，请重新签到（9001）")

    def _remember(self, body: dict[str, Any], operation: str, ref: Any) -> None:
        self.store.put("messages", body["msgid"], {"infno": operation, "status": "ok", "time": time.time(),
                                                     "fixmedins_code": body.get("fixmedins_code", ""), "ref": ref})

    def _remember_failure(self, body: dict[str, Any], operation: str) -> None:
        def remember() -> None:
            if self.store.peek("messages", body["msgid"]) is None:  # a repeated msgid must not erase the original
                self.store.put("messages", body["msgid"], {"infno": operation, "status": "error", "time": time.time(), "ref": None})

        self.store.atomic(remember)

    # -- helpers ---------------------------------------------------------------------------------------
    def _person(self, psn_no: str) -> Person:
        person = self._by_psn_no.get(psn_no)
        if person is None:
            raise BusinessError(f"人员编号 {psn_no} 不存在")
        return person

    def _visit(self, mdtrt_id: str, psn_no: str) -> dict[str, Any]:
        """The stored visit itself (read-only: a change puts a new document)."""
        visit: dict[str, Any] | None = self.store.peek("visits", mdtrt_id)
        if visit is None:
            raise BusinessError(f"就诊ID {mdtrt_id} 不存在")
        if visit["psn_no"] != psn_no:
            raise BusinessError(f"就诊ID {mdtrt_id} 不属于人员 {psn_no}")
        return visit

    def _stamp(self) -> str:
        return self._texts(self._now())[1]

    def _new_id(self) -> str:
        return f"{self.admdvs}{self._texts(self._now())[0]}{self._serial_id()}"

    # -- transactions ----------------------------------------------------------------------------------
    def _sign_in(self, body: dict[str, Any], data: dict[str, Any]) -> Answer:
        sign_no = f"{self.admdvs}{self._texts(self._now())[0][:8]}{self._serial_id(8)}"
        self.store.put("sessions", sign_no, {"opter_no": data["signIn"]["opter_no"], "active": True,
                                             "fixmedins_code": body["fixmedins_code"], "sign_time": self._stamp()})
        return Answer({"signinoutb": {"sign_time": self._stamp(), "sign_no": sign_no}}, sign_no)

    def _sign_out(self, body: dict[str, Any], data: dict[str, Any]) -> Answer:
        sign_no = data["signOut"]["sign_no"]
        session = self.store.get("sessions", sign_no)
        if session is None:
            raise BusinessError(f"签到流水号无效：sign_no {sign_no} 不存在")
        if session.get("expired"):
            raise BusinessError(f"签到流水号无效：sign_no {sign_no} 会话已过期")
        if not session["active"]:
            raise BusinessError(f"签到流水号已签退：sign_no {sign_no}")
        self.store.put("sessions", sign_no, {**session, "active": False})
        return Answer({"signoutoutb": {"sign_time": self._stamp()}})

    def _query_person(self, body: dict[str, Any], data: dict[str, Any]) -> Answer:
        d = data["data"]
        person = self._by_cert.get((d["mdtrt_cert_type"], d["mdtrt_cert_no"]))
        if person is None:
            raise BusinessError(f"未查询到人员信息：就诊凭证类型 {d['mdtrt_cert_type']}，凭证编号 {d['mdtrt_cert_no']}")
        if d["mdtrt_cert_type"] == "03" and d.get("card_sn") and d["card_sn"] != person.card_sn:
            raise BusinessError("社会保障卡卡识别码（card_sn）与卡号不符")
        return Answer({
            "baseinfo": {
                "psn_no": person.psn_no, "psn_cert_type": "01", "certno": person.certno, "psn_name": person.psn_name,
                "gend": person.gend, "naty": person.naty, "brdy": person.brdy,
                "age": float(person.age_on(date.today())), "exp_content": None,
            },
            "insuinfo": [{
                "balc": yuan(self._balance(person.psn_no)), "insutype": person.insutype, "psn_type": person.psn_type,
                "psn_insu_stas": person.psn_insu_stas, "psn_insu_date": person.psn_insu_date, "paus_insu_date": None,
                "cvlserv_flag": "0", "insuplc_admdvs": person.insuplc_admdvs, "emp_name": person.emp_name,
            }],
            "idetinfo": [],
        })

    def _register(self, body: dict[str, Any], data: dict[str, Any]) -> Answer:
        d = data["data"]
        person = self._person(d["psn_no"])
        if person.psn_insu_stas != "1":
            raise BusinessError(f"人员 {person.psn_no} 参保状态为暂停，不能办理门诊挂号")
        if d["insutype"] != person.insutype:
            raise BusinessError(f"人员 {person.psn_no} 未参加险种 {d['insutype']}")
        key = f"{body['fixmedins_code']}:{d['ipt_otp_no']}"
        if self.store.peek("otp_numbers", key) is not None:
            raise BusinessError(f"门诊号 ipt_otp_no {d['ipt_otp_no']} 已登记，院内唯一")
        mdtrt_id = self._new_id()
        self.store.put("otp_numbers", key, mdtrt_id)
        self.store.put("visits", mdtrt_id, {
            "mdtrt_id": mdtrt_id, "psn_no": person.psn_no, "insutype": d["insutype"], "ipt_otp_no": d["ipt_otp_no"],
            "status": "registered", "begntime": d["begntime"], "med_type": None, "fees": {}, "msgid": body["msgid"],
        })
        return Answer({"data": {"mdtrt_id": mdtrt_id, "psn_no": person.psn_no, "ipt_otp_no": d["ipt_otp_no"], "exp_content": None}}, mdtrt_id)

    def _active_visit(self, mdtrt_id: str, psn_no: str) -> dict[str, Any]:
        visit = self._visit(mdtrt_id, psn_no)
        if visit["status"] in ("cancelled", "reversed"):
            raise BusinessError(f"就诊ID {mdtrt_id} 已撤销")
        return visit

    def _cancel_registration(self, body: dict[str, Any], data: dict[str, Any]) -> Answer:
        d = data["data"]
        visit = self._active_visit(d["mdtrt_id"], d["psn_no"])
        if visit["ipt_otp_no"] != d["ipt_otp_no"]:
            raise BusinessError(f"门诊号 {d['ipt_otp_no']} 与就诊ID {d['mdtrt_id']} 不符")
        if self.settlements(d["mdtrt_id"], "settled"):
            raise BusinessError(f"就诊ID {d['mdtrt_id']} 已结算，请先撤销结算")
        if visit["fees"]:
            raise BusinessError(f"就诊ID {d['mdtrt_id']} 有未撤销的费用明细，请先撤销费用明细（2205）")
        self.store.put("visits", d["mdtrt_id"], {**visit, "status": "cancelled"})
        return Answer()

    def _visit_info(self, body: dict[str, Any], data: dict[str, Any]) -> Answer:
        info = data["mdtrtinfo"]
        visit = self._active_visit(info["mdtrt_id"], info["psn_no"])
        self.store.put("visits", info["mdtrt_id"], {**visit, "med_type": info["med_type"],
                                                   "diseinfo": data.get("diseinfo", [])})
        return Answer()

    def _upload_fees(self, body: dict[str, Any], data: dict[str, Any]) -> Answer:
        items = data["feedetail"]
        fees_of: dict[str, dict[str, Any]] = {}
        """The new fee table of each visit the upload touches (stored visits are never changed in place)."""
        visits: dict[str, dict[str, Any]] = {}
        results = []
        for index, item in enumerate(items):
            where = f"feedetail[{index}] feedetl_sn={item['feedetl_sn']}"
            mdtrt_id = item["mdtrt_id"]
            if mdtrt_id not in visits:
                visits[mdtrt_id] = self._active_visit(mdtrt_id, item["psn_no"])
                fees_of[mdtrt_id] = dict(visits[mdtrt_id]["fees"])
            fees = fees_of[mdtrt_id]
            if item["feedetl_sn"] in fees:
                raise BusinessError(f"{where}：费用明细流水号在本次就诊中重复")
            entry = CATALOGUE.get(item["med_list_codg"])
            if entry is None:
                raise BusinessError(f"{where}：医保目录编码 {item['med_list_codg']} 不存在")
            total, cnt, pric = to_fen(item["det_item_fee_sumamt"]), fixed(item["cnt"]), fixed(item["pric"])
            if times(cnt, pric) != total:
                raise BusinessError(f"{where}：明细金额 {fen_text(total)} 不等于数量 {Decimal(str(item['cnt']))} × "
                                    f"单价 {Decimal(str(item['pric']))}")
            _, level, chrg_type, ceiling = entry
            over = 0
            if ceiling is not None:  # (pric - ceiling) x cnt on the exact decimals, rounded once, never below 0
                over = max(0, times((pric[0] * 100 - ceiling * 10 ** pric[1], pric[1] + 2), cnt))
            self_pay = SELF_PAY[level]
            fulamt = total if level == "03" else 0
            preself = share(total - over, self_pay) if level == "02" else 0
            inscp = total - fulamt - preself - over
            outcome = {
                "feedetl_sn": item["feedetl_sn"], "det_item_fee_sumamt": yuan(total), "cnt": float(item["cnt"]),
                "pric": float(item["pric"]), "pric_uplmt_amt": yuan(ceiling) if ceiling is not None else None,
                "selfpay_prop": self_pay / 100, "fulamt_ownpay_amt": yuan(fulamt), "overlmt_amt": yuan(over),
                "preselfpay_amt": yuan(preself), "inscp_scp_amt": yuan(inscp), "chrgitm_lv": level,
                "med_chrgitm_type": chrg_type, "bas_medn_flag": "0", "hi_nego_drug_flag": "0", "chld_medc_flag": "0",
                "list_sp_item_flag": "0", "lmt_used_flag": "0", "drt_reim_flag": "0", "memo": None, "exp_content": None,
            }
            fees[item["feedetl_sn"]] = {
                "chrg_bchno": item["chrg_bchno"], "total": fen_text(total), "fulamt": fen_text(fulamt),
                "preself": fen_text(preself), "over": fen_text(over), "inscp": fen_text(inscp), "setl_id": None,
                "msgid": body["msgid"],
            }
            results.append(outcome)
        for mdtrt_id, visit in visits.items():
            self.store.put("visits", mdtrt_id, {**visit, "fees": fees_of[mdtrt_id]})
        return Answer({"result": results}, sorted(visits))

    def _cancel_fees(self, body: dict[str, Any], data: dict[str, Any]) -> Answer:
        d = data["data"]
        visit = self._active_visit(d["mdtrt_id"], d["psn_no"])
        batch = d["chrg_bchno"]
        chosen = {sn: f for sn, f in visit["fees"].items() if batch == "0000" or f["chrg_bchno"] == batch}
        settled = sorted(sn for sn, f in chosen.items() if f["setl_id"])
        if settled and batch != "0000":
            raise BusinessError(f"收费批次 {batch} 的费用明细已结算（{', '.join(settled)}），请先撤销结算")
        kept = {sn: f for sn, f in visit["fees"].items() if sn not in chosen or f["setl_id"]}
        self.store.put("visits", d["mdtrt_id"], {**visit, "fees": kept})
        return Answer()

    def _compute(self, body: dict[str, Any], d: dict[str, Any]) -> tuple[dict[str, Any], list[str], Person]:
        person = self._person(d["psn_no"])
        visit = self._active_visit(d["mdtrt_id"], d["psn_no"])
        cert = self._by_cert.get((d["mdtrt_cert_type"], d["mdtrt_cert_no"]))
        if cert is None or cert.psn_no != person.psn_no:
            raise BusinessError(f"就诊凭证 {d['mdtrt_cert_type']}/{d['mdtrt_cert_no']} 与人员 {person.psn_no} 不符")
        if d["insutype"] != visit["insutype"]:
            raise BusinessError(f"险种 {d['insutype']} 与挂号险种 {visit['insutype']} 不符")
        fees = {sn: f for sn, f in visit["fees"].items() if f["chrg_bchno"] == d["chrg_bchno"] and not f["setl_id"]}
        if not fees:
            raise BusinessError(f"就诊ID {d['mdtrt_id']} 收费批次 {d['chrg_bchno']} 无待结算的费用明细")
        total = fulamt = preself = over = inscp = 0
        for f in fees.values():
            total += to_fen(f["total"])
            fulamt += to_fen(f["fulamt"])
            preself += to_fen(f["preself"])
            over += to_fen(f["over"])
            inscp += to_fen(f["inscp"])
        claimed = to_fen(d["medfee_sumamt"])
        if claimed != total:
            raise BusinessError(f"medfee_sumamt {fen_text(claimed)} 与费用明细总额 {fen_text(total)} 不符")
        ratio = FUND_RATIO.get(visit["insutype"], 60)
        fund = share(inscp, ratio)
        part = total - fund
        balance = self._balance(person.psn_no)
        acct = min(balance, part) if d["acct_used_flag"] == "1" else 0
        cash = part - acct
        fund_type, fund_name = FUND_TYPE.get(visit["insutype"], ("310100", "职工基本医疗保险统筹基金"))
        setlinfo = {
            "mdtrt_id": d["mdtrt_id"], "setl_id": None, "psn_no": person.psn_no, "psn_name": person.psn_name,
            "psn_cert_type": "01", "certno": person.certno, "gend": person.gend, "naty": person.naty, "brdy": person.brdy,
            "age": float(person.age_on(date.today())), "insutype": visit["insutype"], "psn_type": person.psn_type,
            "cvlserv_flag": "0", "setl_time": None, "mdtrt_cert_type": d["mdtrt_cert_type"], "med_type": d["med_type"],
            "medfee_sumamt": yuan(total), "fulamt_ownpay_amt": yuan(fulamt), "overlmt_selfpay": yuan(over),
            "preselfpay_amt": yuan(preself), "inscp_scp_amt": yuan(inscp), "act_pay_dedc": 0.0,
            "hifp_pay": yuan(fund), "pool_prop_selfpay": (100 - ratio) / 100, "cvlserv_pay": 0.0, "hifes_pay": 0.0,
            "hifmi_pay": 0.0, "hifob_pay": 0.0, "maf_pay": 0.0, "oth_pay": 0.0, "fund_pay_sumamt": yuan(fund),
            "psn_part_amt": yuan(part), "acct_pay": yuan(acct), "psn_cash_pay": yuan(cash), "hosp_part_amt": 0.0,
            "balc": yuan(balance - acct), "acct_mulaid_pay": 0.0, "medins_setl_id": body["msgid"],
            "clr_optins": person.insuplc_admdvs, "clr_way": None, "clr_type": "11", "exp_content": None,
        }
        detail = [{"fund_pay_type": fund_type, "inscp_scp_amt": yuan(inscp), "crt_payb_lmt_amt": 0.0,
                   "fund_payamt": yuan(fund), "fund_pay_type_name": fund_name, "setl_proc_info": ""}]
        if acct:
            detail.append({"fund_pay_type": "310200", "inscp_scp_amt": yuan(inscp), "crt_payb_lmt_amt": 0.0,
                           "fund_payamt": yuan(acct), "fund_pay_type_name": "职工基本医疗保险个人账户",
                           "setl_proc_info": ""})
        return {"setlinfo": setlinfo, "setldetail": detail}, sorted(fees), person

    def _pre_settle(self, body: dict[str, Any], data: dict[str, Any]) -> Answer:
        output, _, _ = self._compute(body, data["data"])
        return Answer(output)

    def _settle(self, body: dict[str, Any], data: dict[str, Any]) -> Answer:
        d = data["data"]
        output, fee_sns, person = self._compute(body, d)
        info = output["setlinfo"]
        setl_id = self._new_id()
        info.update(setl_id=setl_id, setl_time=self._stamp(), clr_way="1")
        visit = self._visit(d["mdtrt_id"], d["psn_no"])
        fees = dict(visit["fees"])
        for sn in fee_sns:
            fees[sn] = {**fees[sn], "setl_id": setl_id}
        self.store.put("visits", d["mdtrt_id"], {**visit, "fees": fees, "status": "settled"})
        self.store.put("balances", person.psn_no, fen_text(to_fen(info["balc"])))
        self.store.put("settlements", setl_id, {
            "setl_id": setl_id, "mdtrt_id": d["mdtrt_id"], "psn_no": person.psn_no, "msgid": body["msgid"],
            "status": "settled", "fees": fee_sns, "output": output,
        })
        return Answer(output, setl_id)

    def _undo_settlement(self, settlement: dict[str, Any], status: str) -> None:
        visit = self._visit(settlement["mdtrt_id"], settlement["psn_no"])
        fees = {sn: ({**f, "setl_id": None} if sn in settlement["fees"] else f) for sn, f in visit["fees"].items()}
        self.store.put("visits", settlement["mdtrt_id"], {**visit, "fees": fees, "status": "registered"})
        acct = to_fen(settlement["output"]["setlinfo"]["acct_pay"])
        self.store.put("balances", settlement["psn_no"], fen_text(self._balance(settlement["psn_no"]) + acct))
        self.store.put("settlements", settlement["setl_id"], {**settlement, "status": status})

    def _cancel_settlement(self, body: dict[str, Any], data: dict[str, Any]) -> Answer:
        d = data["data"]
        settlement = self.store.peek("settlements", d["setl_id"])
        if settlement is None or settlement["mdtrt_id"] != d["mdtrt_id"] or settlement["psn_no"] != d["psn_no"]:
            raise BusinessError(f"结算ID {d['setl_id']} 不存在或与就诊ID、人员编号不符")
        if settlement["status"] != "settled":
            raise BusinessError(f"结算ID {d['setl_id']} 已{ {'refunded': '撤销', 'reversed': '冲正'}[settlement['status']] }，不能重复撤销")
        self._undo_settlement(settlement, "refunded")
        original = settlement["output"]
        info = dict(original["setlinfo"])
        for key, value in info.items():
            if isinstance(value, float) and key not in ("age", "pool_prop_selfpay", "balc"):
                info[key] = -value if value else 0.0
        info.update(setl_id=d["setl_id"], setl_time=self._stamp(), balc=yuan(self._balance(d["psn_no"])))
        detail = [{**row, "fund_payamt": -row["fund_payamt"] or 0.0, "inscp_scp_amt": -row["inscp_scp_amt"] or 0.0}
                  for row in original["setldetail"]]
        return Answer({"setlinfo": info, "setldetail": detail})

    def _reverse(self, body: dict[str, Any], data: dict[str, Any]) -> Answer:
        d = data["data"]
        original = self.store.peek("messages", d["omsgid"])
        if original is None or original["status"] == "error":
            raise BusinessError(f"原交易不存在：omsgid {d['omsgid']} 未被成功处理，无需冲正")
        if original["infno"] != d["oinfno"]:
            raise BusinessError(f"原交易编号不符：omsgid {d['omsgid']} 是 {original['infno']} 交易，不是 {d['oinfno']}")
        if original.get("reversed"):
            return Answer(warn=f"原交易 {d['omsgid']} 已冲正")
        infno, ref = variant_base(self.contract, original["infno"]), original["ref"]
        if infno == "2207":
            settlement = self.store.peek("settlements", ref)
            if settlement["psn_no"] != d["psn_no"]:
                raise BusinessError(f"人员编号 {d['psn_no']} 与原交易不符")
            if settlement["status"] == "refunded":
                raise BusinessError("[iptPsnSetlMgtBO_4412][outpatientSettleBO_40] 该结算已退费，不能冲正")
            self._undo_settlement(settlement, "reversed")
        elif infno == "2201":
            visit = self._visit(ref, d["psn_no"])
            if self.settlements(ref, "settled"):
                raise BusinessError(f"就诊ID {ref} 已结算，请先冲正或撤销结算")
            self.store.put("visits", ref, {**visit, "status": "reversed", "fees": {}})
            # a reversed registration never happened: its outpatient number may be used again
            self.store.delete("otp_numbers", f"{original.get('fixmedins_code', '')}:{visit['ipt_otp_no']}")
        elif infno == "2204":
            for mdtrt_id in ref:
                visit = self._visit(mdtrt_id, d["psn_no"])
                mine = [sn for sn, f in visit["fees"].items() if f["msgid"] == d["omsgid"]]
                if any(visit["fees"][sn]["setl_id"] for sn in mine):
                    raise BusinessError(f"原交易 {d['omsgid']} 的费用明细已结算，不能冲正")
                fees = {sn: f for sn, f in visit["fees"].items() if sn not in mine}
                self.store.put("visits", mdtrt_id, {**visit, "fees": fees})
        else:
            raise BusinessError(f"交易 {original['infno']} 不支持冲正（可冲正：2201、2204、2207 及其 A 版）")
        self.store.put("messages", d["omsgid"], {**original, "reversed": True})
        return Answer()
