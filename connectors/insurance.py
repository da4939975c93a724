"""Reference insurance connector (the hospital side) over httpx: signing, msgids, checks before sending, recovery.

Recovery rules: a request that never reached the platform (connect error) may be resent; after a lost reply only
idempotent transactions (per the contract) are retried; a lost reply to a settlement, registration or fee upload is
undone with a 2601 reversal by the original msgid, so nothing is charged twice or left behind.

Where the region's platform uses another form of a transaction (`settings.transactions`, from hih.toml: 2203A,
2206A, 2207A), that form is sent instead, with its own path, and a reversal names it in `oinfno`.
"""

from __future__ import annotations

import atexit
import functools
import itertools
import json
import os
import ssl
import sys
import threading
import time
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import httpx

from connectors.sequence import ClockSequence
from harness.contract.findings import Severity
from harness.contract.http_json import HttpJsonValidator
from harness.contract.identifiers import resident_id_problem
from harness.contract.loader import load_contract
from harness.contract.signing import tif_headers
from harness.ports.insurance import (
    Certificate,
    FeeItem,
    FeeResult,
    InsuranceSettings,
    InvalidInput,
    Person,
    Refused,
    Settlement,
    SettlementNotCompleted,
    SettlementUncertain,
    SignIn,
    Unavailable,
    Visit,
)

RETRIES = 2
NOT_PROCESSED = "原交易不存在"
SESSION_GONE = ("签到流水号无效", "签到流水号已签退")


_SEQUENCES: dict[str, ClockSequence] = {}
_SEQUENCES_LOCK = threading.Lock()


class MsgIdSource:
    """Unique 30-character msgids: fixmedins_code (12) + yyyyMMddHHmmss + a 4-digit sequence within the second,
    unique across restarts too (`connectors.sequence`). Every connector of one institution in a process draws from
    one sequence: two connectors (two workstations, or `hih load`'s workers) must not send the same msgid."""

    def __init__(self, fixmedins_code: str) -> None:
        self.prefix = fixmedins_code[:12].rjust(12, "0")
        with _SEQUENCES_LOCK:
            self._clock = _SEQUENCES.setdefault(self.prefix, ClockSequence("%Y%m%d%H%M%S", 4))

    def next(self) -> str:
        second, seq = self._clock.next()
        return f"{self.prefix}{second}{seq:04d}"


class _VerifyingContext(ssl.SSLContext):
    """The verifying TLS context `httpx.create_ssl_context()` makes (certifi's CA bundle, or the file or folder
    SSL_CERT_FILE or SSL_CERT_DIR names), its CA certificates read when it first wraps a connection rather than when
    it is made: reading the bundle costs ≈ 20–35 ms of CPU, which a connector of a platform at an http:// address
    (every `hih run`'s mock) never needs. A connection is verified against the same certificates either way."""

    _where: tuple[str | None, str | None]
    _lock: threading.Lock
    _loaded: bool

    @classmethod
    def like_httpx(cls) -> _VerifyingContext:
        """Made as `httpx.create_ssl_context()` makes its context (`ssl.create_default_context` with its CA
        locations), the locations noted, not read."""
        import certifi

        context = cls(ssl.PROTOCOL_TLS_CLIENT)
        context.verify_mode = ssl.CERT_REQUIRED
        context.check_hostname = True
        keylog = os.environ.get("SSLKEYLOGFILE")
        if keylog and not sys.flags.ignore_environment:
            context.keylog_filename = keylog
        if os.environ.get("SSL_CERT_FILE"):
            context._where = (os.environ["SSL_CERT_FILE"], None)
        elif os.environ.get("SSL_CERT_DIR"):
            context._where = (None, os.environ["SSL_CERT_DIR"])
        else:
            context._where = (certifi.where(), None)
        context._lock = threading.Lock()
        context._loaded = False
        return context

    def load_now(self) -> None:
        """Read the CA certificates (once)."""
        with self._lock:
            if not self._loaded:
                self.load_verify_locations(*self._where)
                self._loaded = True

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        self.load_now()
        return super().wrap_socket(*args, **kwargs)

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:
        self.load_now()
        return super().wrap_bio(*args, **kwargs)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context for every connector (`_VerifyingContext`: its CA bundle read at the first TLS
    connection)."""
    return _VerifyingContext.like_httpx()


MAX_IDLE_CLIENTS = 16
"""httpx clients kept between connectors in a process, all platforms together; past it the oldest is closed."""

_ClientKey = tuple[str, float, str, tuple[tuple[str, str], ...]]


class _IdleClients:
    """httpx clients of closed connectors, each handed to the next connector built with the same settings.

    `hih run` builds a connector for every scenario. A new client walks the environment for proxies, builds a
    connection pool, and its first call connects; closing it closes that connection, which the platform (the mock,
    in the same process) then handles too: ≈ 1–3 ms a scenario. A client taken here keeps its idle keep-alive
    connections (httpx drops one the platform has closed, or idle for 5 s, before using it; a request that fails
    closes its connection) and nothing else of the connector before: its cookies are cleared when it is given back, and
    a client the connector changed (`_setup_of`: headers, event hooks, auth, transport ...) or replaced is closed.
    A client is kept only for settings it was built with: the platform's URL, the timeout, the content type and the
    proxy variables of the environment (`*_proxy`, read again for each connector), so a proxy set later in the
    process reaches the next connector. Clients in use are never shared: two connectors at once have two."""

    def __init__(self) -> None:
        self._idle: dict[int, tuple[_ClientKey, httpx.Client]] = {}
        self._lock = threading.Lock()
        atexit.register(self.close_all)

    def take(self, key: _ClientKey) -> httpx.Client | None:
        with self._lock:
            for ident, (kept, client) in self._idle.items():
                if kept == key:
                    del self._idle[ident]
                    return client
        return None

    def give(self, key: _ClientKey, client: httpx.Client) -> None:
        if client.is_closed:
            return
        client.cookies.clear()
        with self._lock:
            self._idle[id(client)] = (key, client)
            oldest = next(iter(self._idle.values()))[1] if len(self._idle) > MAX_IDLE_CLIENTS else None
            if oldest is not None:
                del self._idle[id(oldest)]
        if oldest is not None:
            oldest.close()

    def close_all(self) -> None:
        with self._lock:
            clients = [client for _, client in self._idle.values()]
            self._idle.clear()
        for client in clients:
            client.close()


_IDLE = _IdleClients()


def _setup_of(client: httpx.Client) -> tuple[object, ...]:
    """What a connector may have changed on its client (a subclass or a wrapping factory adding headers, hooks, auth
    or a transport of its own): a client whose setup differs at close from when the connector got it is closed,
    not handed on, so no connector gets what another changed."""
    hooks = client.event_hooks
    return (str(client.base_url), client.timeout, tuple(client.headers.raw), client.auth, tuple(hooks["request"]),
            tuple(hooks["response"]), str(client.params), client.follow_redirects, client.max_redirects,
            client.trust_env, id(client._transport), tuple((str(k), id(v)) for k, v in client._mounts.items()))


def _proxy_environment() -> tuple[tuple[str, str], ...]:
    """The environment's proxy variables (as httpx reads them: `*_proxy`, either case), for a client's key."""
    return tuple(sorted((k, v) for k, v in os.environ.items() if k[-6:].lower() == "_proxy"))


def _dec(value: Any) -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal(0)


def _cents(value: Decimal) -> Decimal:
    """An amount in yuan to the fen, rounded half up (四舍五入) as the platform rounds; 0.5 × 61.73 is 30.87."""
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


class _Lost(Exception):
    """The request may have reached the platform but no usable reply came back."""

    def __init__(self, reason: str, sent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.sent = sent


class InsuranceConnector:
    """Implements `harness.ports.insurance.InsurancePort` against a platform (or its mock) at `settings.base_url`."""

    retries = RETRIES
    """Resends after a lost reply: a request that never left, or an idempotent transaction."""

    def __init__(self, settings: InsuranceSettings, transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        self.contract = load_contract(Path(settings.contract_folder))
        self.validator = HttpJsonValidator(self.contract)
        self.msgids = MsgIdSource(settings.fixmedins_code)
        self.forms = self._forms(settings.transactions)
        """Transaction -> the form of it this region's platform uses (2207 -> 2207A); absent: the plain one."""
        self.sign_no: str | None = None
        self._counter = itertools.count(1)
        content_type = self.contract.http.content_type if self.contract.http else "application/json"
        self._client_key: _ClientKey | None = None
        """Under which settings the client goes back to `_IDLE` at close; None: closed with the connector (a
        transport of the caller's)."""
        self._closed = False
        client = None
        if transport is None:
            self._client_key = (settings.base_url, float(settings.timeout_s), content_type, _proxy_environment())
            client = _IDLE.take(self._client_key)
        self.http = client or httpx.Client(base_url=settings.base_url, timeout=settings.timeout_s, transport=transport,
                                           verify=_tls_context(), headers={"Content-Type": content_type})
        self._client = self.http
        self._client_setup = _setup_of(self.http) if self._client_key is not None else ()

    def close(self) -> None:
        """Close the connector; its client goes to the next connector built with the same settings (`_IdleClients`)."""
        if self._closed:
            return  # a second close: the client may be another connector's by now
        self._closed = True
        client = self._client
        if self.http is not client:  # a client of a subclass's own, set after this one's
            self.http.close()
        if self._client_key is None or self.http is not client or _setup_of(client) != self._client_setup:
            client.close()
        else:
            _IDLE.give(self._client_key, client)

    def _forms(self, variants: tuple[str, ...]) -> dict[str, str]:
        forms: dict[str, str] = {}
        for name in variants:
            op = self.contract.operations.get(name)
            base = op.extra.get("variant_of") if op is not None else None
            if not isinstance(base, str):
                raise ValueError(f"{name} is not a variant transaction of contract {self.contract.ref}")
            forms[base] = name
        return forms

    def _infno(self, transaction: str) -> str:
        """The infno this region's platform takes for `transaction` (2207A where it uses that form)."""
        return self.forms.get(transaction, transaction)

    # -- the wire ------------------------------------------------------------------------------------------
    def _envelope(self, infno: str, data: dict[str, Any], msgid: str, insuplc_admdvs: str | None) -> dict[str, Any]:
        s = self.settings
        body: dict[str, Any] = {
            "infno": infno, "msgid": msgid, "mdtrtarea_admvs": s.mdtrtarea_admvs, "insuplc_admdvs": insuplc_admdvs or "",
            "recer_sys_code": s.recer_sys_code, "dev_no": "", "dev_safe_info": "", "cainfo": "", "signtype": "",
            "infver": s.infver, "opter_type": s.opter_type, "opter": s.opter, "opter_name": s.opter_name,
            "inf_time": datetime.now().strftime("%Y-%m-%d %H:%M:%S"), "fixmedins_code": s.fixmedins_code,
            "fixmedins_name": s.fixmedins_name, "sign_no": self.sign_no or "", "input": data,
        }
        if not insuplc_admdvs:
            del body["insuplc_admdvs"]
        return body

    def _check(self, body: dict[str, Any]) -> None:
        """Refuse to send what breaks the contract (the sign_no rule is the session's business, not the caller's)."""
        checked = self.validator.validate_request(body)
        errors = [f for f in checked.findings if f.severity is Severity.ERROR and f.location != "/sign_no"]
        if errors:
            raise InvalidInput(errors[0].location, errors[0].message)

    def _post(self, infno: str, body: dict[str, Any]) -> dict[str, Any]:
        op = self.contract.operations[infno]
        assert self.contract.http is not None
        path = f"{self.contract.http.base_path.rstrip('/')}/{op.path}"
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        headers = tif_headers(self.contract.signing, self.settings.paasid, self.settings.secret) if self.contract.signing and self.contract.signing.scheme == "tif" else {}
        try:
            response = self.http.post(path, content=payload, headers=headers)
        except httpx.ConnectError as exc:
            raise _Lost(f"cannot connect: {exc}", sent=False) from None
        except httpx.TimeoutException:
            raise _Lost(f"no reply within {self.settings.timeout_s} s", sent=True) from None
        except httpx.TransportError as exc:
            raise _Lost(f"connection failed: {type(exc).__name__}", sent=True) from None
        if response.status_code >= 500:
            raise _Lost(f"HTTP {response.status_code} from the gateway", sent=True)
        try:
            reply = response.json()
        except (ValueError, UnicodeDecodeError):
            raise _Lost(f"malformed reply (HTTP {response.status_code}, {len(response.content)} bytes)", sent=True) from None
        if not isinstance(reply, dict) or "infcode" not in reply:
            raise _Lost("reply is not an insurance envelope", sent=True)
        if str(reply.get("infcode")) != "0":
            raise Refused(infno, str(reply.get("err_msg") or "infcode -1 without err_msg"))
        return reply

    def _call(self, infno: str, data: dict[str, Any], insuplc_admdvs: str | None = None, msgid: str | None = None) -> tuple[dict[str, Any], str]:
        """Send one transaction; resend only what is safe to resend. Returns (reply, the msgid the platform saw).

        A request that never left (connect error) is resent with the same msgid; after a lost reply an idempotent
        transaction is resent with a new one. `Unavailable.msgid` names the attempt whose reply was lost.
        """
        op = self.contract.operations[infno]
        msgid = msgid or self.msgids.next()
        self._check(self._envelope(infno, data, msgid, insuplc_admdvs))  # before anything leaves, sign-in included
        if op.extra.get("requires_sign_no", True) and not self.sign_no:
            self.sign_in()
        attempts = 0
        renewed = False
        while True:
            attempts += 1
            body = self._envelope(infno, data, msgid, insuplc_admdvs)
            try:
                return self._post(infno, body), msgid
            except _Lost as lost:
                if attempts <= self.retries and not lost.sent:
                    time.sleep(0.05 * attempts)
                    continue
                if attempts <= self.retries and op.idempotent:
                    time.sleep(0.05 * attempts)
                    msgid = self.msgids.next()
                    continue
                raise Unavailable(infno, lost.reason, msgid, sent=lost.sent) from None
            except Refused as refused:
                # sign-in has no session to renew; signing in again to sign out would only open a session to close
                if not renewed and infno not in ("9001", "9002") and any(t in refused.message for t in SESSION_GONE):
                    renewed = True
                    self.sign_in()
                    msgid = self.msgids.next()
                    continue
                raise

    # -- session -------------------------------------------------------------------------------------------
    def sign_in(self) -> SignIn:
        reply, _ = self._call("9001", {"signIn": {"opter_no": self.settings.opter, "mac": "00-16-3E-00-00-01", "ip": "10.0.0.10"}})
        out = reply["output"]["signinoutb"]
        self.sign_no = out["sign_no"]
        return SignIn(out["sign_no"], out["sign_time"])

    def sign_out(self) -> None:
        """End the session. When the platform answers that it has none to end (expired, forgotten, already signed
        out: 签到流水号无效 / 已签退), the session is over all the same: done, without signing in again."""
        if self.sign_no:
            try:
                self._call("9002", {"signOut": {"sign_no": self.sign_no, "opter_no": self.settings.opter}})
            except Refused as refused:
                if not any(t in refused.message for t in SESSION_GONE):
                    raise
            self.sign_no = None

    # -- people and visits -----------------------------------------------------------------------------------
    def query_person(self, cert: Certificate) -> Person:
        if cert.cert_type == "02":
            problem = resident_id_problem(cert.cert_no)
            if problem:
                raise InvalidInput("/input/data/mdtrt_cert_no", problem)
        data: dict[str, Any] = {"mdtrt_cert_type": cert.cert_type, "mdtrt_cert_no": cert.cert_no, "psn_cert_type": "01"}
        if cert.card_sn:
            data["card_sn"] = cert.card_sn
        reply, _ = self._call("1101", {"data": data})
        base = reply["output"]["baseinfo"]
        insu = reply["output"]["insuinfo"]
        insu = insu[0] if isinstance(insu, list) else insu  # some provinces answer an object
        return Person(base["psn_no"], base["psn_name"], base["certno"], base["gend"], base["brdy"], insu["insutype"],
                      insu["insuplc_admdvs"], _dec(insu["balc"]), insu["psn_insu_stas"] == "1", reply["output"])

    def _cert_fields(self, cert: Certificate) -> dict[str, Any]:
        fields: dict[str, Any] = {"mdtrt_cert_type": cert.cert_type, "mdtrt_cert_no": cert.cert_no}
        if cert.card_sn:
            fields["card_sn"] = cert.card_sn
        return fields

    def register_visit(self, person: Person, cert: Certificate, ipt_otp_no: str, dept_code: str = "A03",
                       dept_name: str = "内科", doctor_code: str = "D001", doctor_name: str = "李医生") -> Visit:
        data = {"data": {"psn_no": person.psn_no, "insutype": person.insutype,
                         "begntime": datetime.now().strftime("%Y-%m-%d %H:%M:%S"), **self._cert_fields(cert),
                         "ipt_otp_no": ipt_otp_no, "atddr_no": doctor_code, "dr_name": doctor_name,
                         "dept_code": dept_code, "dept_name": dept_name, "caty": dept_code}}
        try:
            reply, _ = self._call("2201", data, person.insuplc_admdvs)
        except Unavailable as lost:
            if lost.sent:  # a registration that never reached the platform has nothing to undo
                self._undo(person.psn_no, person.insuplc_admdvs, lost.msgid, "2201")
            raise
        out = reply["output"]["data"]
        return Visit(out["mdtrt_id"], person.psn_no, ipt_otp_no, person.insutype, person.insuplc_admdvs)

    def cancel_visit(self, visit: Visit) -> None:
        self._call("2202", {"data": {"psn_no": visit.psn_no, "mdtrt_id": visit.mdtrt_id, "ipt_otp_no": visit.ipt_otp_no}},
                   visit.insuplc_admdvs)

    def upload_visit_info(self, visit: Visit, diag_code: str, diag_name: str, med_type: str = "11") -> None:
        now = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        self._call(self._infno("2203"), {
            "mdtrtinfo": {"mdtrt_id": visit.mdtrt_id, "psn_no": visit.psn_no, "med_type": med_type, "begntime": now,
                          "main_cond_dscr": diag_name, "dise_codg": diag_code, "dise_name": diag_name},
            "diseinfo": [{"diag_type": "1", "diag_srt_no": "1", "diag_code": diag_code, "diag_name": diag_name,
                          "diag_dept": "内科", "dise_dor_no": "D001", "dise_dor_name": "李医生", "diag_time": now,
                          "vali_flag": "1"}],
        }, visit.insuplc_admdvs)

    # -- fees ----------------------------------------------------------------------------------------------
    def upload_fees(self, visit: Visit, batch: str, items: list[FeeItem]) -> list[FeeResult]:
        now = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        lines = []
        for item in items:
            exact = self._line_total(item)
            total = item.amount if item.amount is not None else exact
            if total != exact:
                raise InvalidInput(f"feedetl_sn {item.feedetl_sn}", f"amount {total} is not cnt {item.cnt} × pric {item.pric}")
            lines.append({
                "feedetl_sn": item.feedetl_sn, "mdtrt_id": visit.mdtrt_id, "psn_no": visit.psn_no, "chrg_bchno": batch,
                "rx_circ_flag": "0", "fee_ocur_time": now, "med_list_codg": item.med_list_codg,
                "medins_list_codg": item.medins_list_codg, "det_item_fee_sumamt": float(total), "cnt": float(item.cnt),
                "pric": float(item.pric), "bilg_dept_codg": "A03", "bilg_dept_name": "内科", "bilg_dr_codg": "D001",
                "bilg_dr_name": "李医生", "hosp_appr_flag": "1",
            })
        try:
            reply, _ = self._call("2204", {"feedetail": lines}, visit.insuplc_admdvs)
        except Unavailable as lost:
            if lost.sent:
                self._undo(visit.psn_no, visit.insuplc_admdvs, lost.msgid, "2204")
            raise
        return [FeeResult(r["feedetl_sn"], _dec(r["det_item_fee_sumamt"]), r["chrgitm_lv"], _dec(r["selfpay_prop"]),
                          _dec(r["inscp_scp_amt"])) for r in reply["output"]["result"]]

    @staticmethod
    def _line_total(item: FeeItem) -> Decimal:
        """A fee line's amount: count × price, to the fen, half up (四舍五入) as the platform computes it."""
        return _cents(item.cnt * item.pric)

    def cancel_fees(self, visit: Visit, batch: str) -> None:
        self._call("2205", {"data": {"mdtrt_id": visit.mdtrt_id, "chrg_bchno": batch, "psn_no": visit.psn_no}},
                   visit.insuplc_admdvs)

    # -- settlement ----------------------------------------------------------------------------------------
    def _settle_data(self, visit: Visit, cert: Certificate, batch: str, total: Decimal, use_account: bool) -> dict[str, Any]:
        data: dict[str, Any] = {
            "psn_no": visit.psn_no, **self._cert_fields(cert), "med_type": "11", "medfee_sumamt": float(total),
            "psn_setlway": "01", "mdtrt_id": visit.mdtrt_id, "chrg_bchno": batch,
            "acct_used_flag": "1" if use_account else "0", "insutype": visit.insutype,
        }
        return data

    def _settlement(self, reply: dict[str, Any], msgid: str) -> Settlement:
        info = reply["output"]["setlinfo"]
        return Settlement(info["mdtrt_id"], info.get("setl_id"), info["medins_setl_id"], _dec(info["medfee_sumamt"]),
                          _dec(info["fund_pay_sumamt"]), _dec(info["psn_part_amt"]), _dec(info["acct_pay"]),
                          _dec(info["psn_cash_pay"]), _dec(info["balc"]), msgid, reply["output"])

    def pre_settle(self, visit: Visit, cert: Certificate, batch: str, total: Decimal, use_account: bool = True) -> Settlement:
        reply, msgid = self._call(self._infno("2206"), {"data": self._settle_data(visit, cert, batch, total, use_account)},
                                  visit.insuplc_admdvs)
        return self._settlement(reply, msgid)

    def settle(self, visit: Visit, cert: Certificate, batch: str, total: Decimal, use_account: bool = True) -> Settlement:
        data = self._settle_data(visit, cert, batch, total, use_account)
        data["pub_hosp_rfom_flag"] = "1"  # required since contract 2024.1, accepted before
        infno = self._infno("2207")
        try:
            reply, msgid = self._call(infno, {"data": data}, visit.insuplc_admdvs)
        except Unavailable as lost:
            if not lost.sent:  # no connection was made: certainly not charged, nothing to reverse
                raise SettlementNotCompleted(lost.msgid, lost.reason, reversed=False) from None
            # The platform may have charged the patient: reverse by msgid before anyone tries again.
            undone = self._undo(visit.psn_no, visit.insuplc_admdvs, lost.msgid, infno)
            if undone is None:
                raise SettlementUncertain(lost.msgid, f"{lost.reason}; the reversal did not get through either") from None
            raise SettlementNotCompleted(lost.msgid, lost.reason, reversed=undone) from None
        return self._settlement(reply, msgid)

    def cancel_settlement(self, settlement: Settlement, visit: Visit) -> Settlement:
        reply, msgid = self._call("2208", {"data": {"setl_id": settlement.setl_id, "mdtrt_id": visit.mdtrt_id, "psn_no": visit.psn_no}},
                                  visit.insuplc_admdvs)
        return self._settlement(reply, msgid)

    def reverse(self, visit: Visit, msgid: str, infno: str) -> None:
        oinfno = self._infno(infno)  # the form the original went as (2207A where the region uses it)
        self._call("2601", {"data": {"psn_no": visit.psn_no, "omsgid": msgid, "oinfno": oinfno}}, visit.insuplc_admdvs)

    def _undo(self, psn_no: str, insuplc_admdvs: str, msgid: str, infno: str) -> bool | None:
        """Reverse a transaction whose reply was lost. True: reversed; False: never processed; None: unknown."""
        try:
            self._call("2601", {"data": {"psn_no": psn_no, "omsgid": msgid, "oinfno": infno}}, insuplc_admdvs)
        except Refused as refused:
            if NOT_PROCESSED in refused.message:
                return False
            return None
        except Unavailable:
            return None
        return True


def reference(settings: InsuranceSettings) -> InsuranceConnector:
    """The factory `hih run` uses by default: `connectors.insurance:reference`."""
    return InsuranceConnector(settings)
