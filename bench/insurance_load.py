#!/usr/bin/env python3
"""Closed-loop HTTP load generator for the insurance mock (`hih mock serve --interface insurance`).

Keeps C keep-alive HTTP/1.1 connections (raw asyncio streams on uvloop, no HTTP library in the hot path), each
with one request in flight, and checks every reply. Per concurrency level: connect, warm up (discarded), then
a measured window; it reports req/s, p50/p90/p99/max latency, errors, and the CPU share of the server process
(from /proc/<pid>/stat; 100 % = one core) and of this client over the window.

Workloads (`--workload`):
  settle     2207 outpatient settlements with the mock's full validation and signing on. Each needs state, so a
             setup phase (timed and reported on its own) signs in (9001) and, for each future settlement,
             registers a visit (2201) and uploads its fees (2204). Before each level the 2207 requests are
             built and TIF-signed up front (unique msgid, fresh nonce, current timestamp) so the client stays cheap.
  presettle  2206 pre-settlements (no state change) against one visit; same signing and uniqueness.
  raw        the peers' workload: posts a fixed body (peerbench's fixtures/request.json) unchanged. It is unsigned,
             so the mock refuses it with infcode -1: those replies count as "answered", not as errors.

Every loop is bounded by count (the prepared requests, or --max-requests) and by time (the window, then
--timeout for requests still in flight). Only 127.0.0.1 is allowed as a target.

  insurance_load.py --spawn [--workload settle] [--conns 1,8,64] [--warmup 3] [--duration 10]
  insurance_load.py http://127.0.0.1:PORT [--server-pid PID] ...
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import random
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import uvloop
from procstat import machine_busy_s, proc_cpu_s  # bench/ is the script directory

from harness.contract.loader import ContractStore
from harness.contract.model import Contract, Signing
from harness.contract.signing import tif_headers
from mocks.insurance import TEST_PAASID, TEST_SECRET
from mocks.population import Person, generate

DEFAULT_BODY = Path("/work/shared/peerbench/fixtures/request.json")
RAW_PATH = "/fsi/api/outpatientSettleService/saveSettletmentV2"
MAX_SIGN_AGE_S = 240.0  # the mock accepts TIF timestamps within 300 s; a level must finish well inside that
# Fees uploaded for each visit (med_list_codg, medins_list_codg, cnt, pric): 20.00 + 25.00 + 2 x 12.50 = 70.00
FEES: tuple[tuple[str, str, float, float], ...] = (
    ("001102000010000", "GH001", 1.0, 20.00),
    ("250101015000000", "JY001", 1.0, 25.00),
    ("XJ01CAA040A001010100028", "YP001", 2.0, 12.50),
)
FEE_TOTAL = 70.00


# -- raw HTTP/1.1 over asyncio streams ----------------------------------------------------------------------
class HttpConn:
    """One keep-alive HTTP/1.1 connection with at most one request in flight."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> HttpConn:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port, limit=1 << 22)
        return self

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def exchange(self, raw: bytes) -> tuple[int, bytes]:
        """Send one complete request and read its reply: (status, body)."""
        if self.reader is None or self.writer is None:
            await self.open()
        assert self.reader is not None and self.writer is not None
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        lower = head.lower()
        body: bytes
        i = lower.find(b"\r\ncontent-length:")
        if i >= 0:
            j = lower.find(b"\r\n", i + 2)
            body = await self.reader.readexactly(int(lower[i + 17:j]))
        elif b"\r\ntransfer-encoding: chunked" in lower:
            body = await self._chunked()
        else:
            body = await self.reader.read()
            self.close()
            return status, body
        if b"\r\nconnection: close" in lower:
            self.close()
        return status, body

    async def _chunked(self) -> bytes:
        assert self.reader is not None
        parts: list[bytes] = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)


# -- requests -----------------------------------------------------------------------------------------------
@dataclass(slots=True)
class Prepared:
    """A complete request on the wire and what its reply must echo."""

    raw: bytes
    msgid: str


class Envelopes:
    """Builds signed insurance requests: the envelope, a unique msgid and the TIF headers."""

    def __init__(self, contract: Contract, host: str, port: int, paasid: str, secret: str) -> None:
        assert contract.http is not None
        self.signing: Signing | None = contract.signing if contract.signing and contract.signing.scheme == "tif" else None
        self.content_type = contract.http.content_type
        base = contract.http.base_path.rstrip("/")
        self.paths = {key: f"{base}/{op.path}" for key, op in contract.operations.items()}
        self.host = f"{host}:{port}"
        self.paasid = paasid
        self.secret = secret
        self.tag = random.randrange(10_000)  # keeps msgids of two runs in the same second apart
        self.run_id = f"{int(time.time()) % 10**8:08d}{self.tag:04d}"
        self.count = 0
        self.sign_no = ""

    def msgid(self, stamp: str) -> str:
        """30 characters: a 12-character institution-code part (H + 11 digits that change every 10,000 messages),
        yyyyMMddHHmmss and a 4-digit sequence, so more than 9,999 messages a second stay unique."""
        n = self.count
        self.count += 1
        return f"H{self.tag:04d}{n // 10_000:07d}{stamp}{n % 10_000:04d}"

    def build(self, infno: str, data: dict[str, Any], insuplc_admdvs: str | None = None, now: float | None = None) -> Prepared:
        now = time.time() if now is None else now
        moment = datetime.fromtimestamp(now)
        msgid = self.msgid(moment.strftime("%Y%m%d%H%M%S"))
        body: dict[str, Any] = {
            "infno": infno, "msgid": msgid, "mdtrtarea_admvs": "330100", "recer_sys_code": "YBXT", "dev_no": "",
            "dev_safe_info": "", "cainfo": "", "signtype": "", "infver": "V1.0", "opter_type": "1", "opter": "100234",
            "opter_name": "收费员王五", "inf_time": moment.strftime("%Y-%m-%d %H:%M:%S"), "fixmedins_code": "H33010600001",
            "fixmedins_name": "示例市第一人民医院", "sign_no": self.sign_no, "input": data,
        }
        if insuplc_admdvs:
            body["insuplc_admdvs"] = insuplc_admdvs
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        headers = tif_headers(self.signing, self.paasid, self.secret, now) if self.signing else {}
        head = (f"POST {self.paths[infno]} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: {self.content_type}\r\n"
                f"Content-Length: {len(payload)}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n")
        return Prepared(head.encode("latin-1") + payload, msgid)


def raw_request(host: str, port: int, path: str, body: bytes) -> Prepared:
    """The peers' request (wrk's post.lua): POST with Content-Type application/json and the fixture body."""
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return Prepared(head.encode("latin-1") + body, "")


# -- reply checks: (category, detail) with category ok | answered | error --------------------------------------
Check = Callable[[int, bytes, str], tuple[str, str]]


def _parse(status: int, body: bytes) -> tuple[dict[str, Any] | None, str]:
    if status != 200:
        return None, f"HTTP {status}: {body[:200].decode('utf-8', 'replace')}"
    try:
        reply = json.loads(body)
    except ValueError:
        return None, f"not JSON: {body[:200]!r}"
    if not isinstance(reply, dict) or "infcode" not in reply:
        return None, f"not an insurance envelope: {body[:200]!r}"
    return reply, ""


def check_settlement(status: int, body: bytes, msgid: str) -> tuple[str, str]:
    """HTTP 200, infcode 0, and setlinfo.medins_setl_id echoing the msgid (the contract's rule)."""
    reply, problem = _parse(status, body)
    if reply is None:
        return "error", problem
    if reply["infcode"] != 0:
        return "error", f"infcode {reply['infcode']}: {reply.get('err_msg')}"
    try:
        echoed = reply["output"]["setlinfo"]["medins_setl_id"]
    except (KeyError, TypeError):
        return "error", "infcode 0 without output.setlinfo"
    if echoed != msgid:
        return "error", f"medins_setl_id {echoed!r} != msgid {msgid!r}"
    return "ok", ""


def check_raw(status: int, body: bytes, msgid: str) -> tuple[str, str]:
    """Any insurance envelope on HTTP 200 is an answer; infcode -1 (unsigned request refused) is 'answered'."""
    reply, problem = _parse(status, body)
    if reply is None:
        return "error", problem
    if reply["infcode"] == 0:
        return "ok", ""
    return "answered", str(reply.get("err_msg"))


# -- one concurrency level ------------------------------------------------------------------------------------
class Pool:
    """Requests handed out in order, each at most once; `limit` bounds a repeating pool."""

    def __init__(self, items: list[Prepared], repeat: bool = False, limit: int | None = None) -> None:
        self.items = items
        self.repeat = repeat
        self.limit = limit if limit is not None else len(items)
        self.taken = 0

    def take(self) -> Prepared | None:
        if self.taken >= self.limit:
            return None
        item = self.items[self.taken % len(self.items)] if self.repeat else self.items[self.taken]
        self.taken += 1
        return item

    def left(self) -> int:
        return self.limit - self.taken


@dataclass
class LevelResult:
    workload: str
    conns: int
    window_s: float = 0.0
    requests: int = 0
    rate: float = 0.0
    p50_ms: float = 0.0
    p90_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    ok: int = 0
    answered: int = 0
    errors: int = 0
    warmup_requests: int = 0
    warmup_errors: int = 0
    server_cpu_pct: float | None = None
    client_cpu_pct: float = 0.0
    other_cpu_pct: float | None = None
    """CPU used on the machine by neither the server nor this client (other load skews the figures)."""
    prepared: int = 0
    prepare_s: float = 0.0
    setup_s: float = 0.0
    note: str = ""
    first_errors: list[str] = field(default_factory=list)


class LevelState:
    def __init__(self) -> None:
        self.measuring = False
        self.stop = False
        self.lat: list[int] = []
        self.counts = {"ok": 0, "answered": 0, "error": 0}
        self.warm = {"ok": 0, "answered": 0, "error": 0}
        self.first_errors: list[str] = []
        self.first_answer = ""
        self.exhausted_at: float | None = None
        self.wake = asyncio.Event()

    def note_error(self, detail: str) -> None:
        if len(self.first_errors) < 5:
            self.first_errors.append(detail)

    def exhausted(self) -> None:
        if self.exhausted_at is None:
            self.exhausted_at = time.perf_counter()
            self.measuring = False
            self.wake.set()


async def _worker(conn: HttpConn, pool: Pool, check: Check, st: LevelState, interval_ns: int = 0, offset_ns: int = 0) -> None:
    """Closed loop (one request in flight, next as soon as the reply is in) or, with `interval_ns`, open loop: sends
    on a fixed schedule and measures from the scheduled time, so a stalled server is not hidden by the client
    waiting (no coordinated omission)."""
    perf = time.perf_counter_ns
    next_at = perf() + offset_ns
    while not st.stop:
        item = pool.take()
        if item is None:
            st.exhausted()
            return
        if interval_ns:
            ahead = next_at - perf()
            if ahead > 0:
                await asyncio.sleep(ahead / 1e9)
            t0 = next_at
            next_at += interval_ns
        else:
            t0 = perf()
        try:
            status, body = await conn.exchange(item.raw)
        except (OSError, EOFError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            conn.close()
            (st.counts if st.measuring else st.warm)["error"] += 1
            st.note_error(f"connection: {type(exc).__name__}: {exc}")
            continue  # the next exchange reconnects; a dead server ends the loop through exhaustion or time
        t1 = perf()
        category, detail = check(status, body, item.msgid)
        if st.measuring:
            st.counts[category] += 1
            st.lat.append(t1 - t0)
        else:
            st.warm[category] += 1
        if category == "error":
            st.note_error(detail)
        elif category == "answered" and not st.first_answer:
            st.first_answer = detail


def _pct(sorted_ns: list[int], q: float) -> float:
    if not sorted_ns:
        return 0.0
    return sorted_ns[min(len(sorted_ns) - 1, max(0, math.ceil(q * len(sorted_ns)) - 1))] / 1e6


async def run_level(workload: str, host: str, port: int, conns: int, pool: Pool, check: Check, warmup: float,
                    duration: float, timeout: float, server_pid: int | None, rate: float = 0.0) -> tuple[LevelResult, LevelState]:
    st = LevelState()
    # The client's own garbage collection would show up as server latency: keep it out of the measured window.
    gc.collect()
    gc.freeze()
    gc.disable()
    connections = [await HttpConn(host, port).open() for _ in range(conns)]
    interval = int(conns * 1e9 / rate) if rate else 0  # each connection's share of the offered rate
    tasks = [asyncio.ensure_future(_worker(c, pool, check, st, interval, interval * i // conns))
             for i, c in enumerate(connections)]
    try:
        if warmup > 0:
            try:
                await asyncio.wait_for(st.wake.wait(), warmup)
            except TimeoutError:
                pass
        busy0, cpu0, proc0, t0 = machine_busy_s(), proc_cpu_s(server_pid), time.process_time(), time.perf_counter()
        if st.exhausted_at is None:
            st.measuring = True
            try:
                await asyncio.wait_for(st.wake.wait(), duration)
            except TimeoutError:
                pass
        st.measuring = False
        t1 = st.exhausted_at if st.exhausted_at is not None and st.exhausted_at > t0 else time.perf_counter()
        busy1, cpu1, proc1, t_read = machine_busy_s(), proc_cpu_s(server_pid), time.process_time(), time.perf_counter()
        st.stop = True
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=2)
    finally:
        st.stop = True
        for task in tasks:
            task.cancel()
        for c in connections:
            c.close()
    gc.enable()
    gc.unfreeze()
    window = max(t1 - t0, 1e-9)
    lat = sorted(st.lat)
    res = LevelResult(workload, conns)
    res.window_s = round(window, 3)
    res.requests = len(lat)
    res.rate = len(lat) / window
    res.p50_ms, res.p90_ms, res.p99_ms = _pct(lat, 0.50), _pct(lat, 0.90), _pct(lat, 0.99)
    res.max_ms = lat[-1] / 1e6 if lat else 0.0
    res.ok, res.answered, res.errors = st.counts["ok"], st.counts["answered"], st.counts["error"]
    res.warmup_requests = sum(st.warm.values())
    res.warmup_errors = st.warm["error"]
    cpu_wall = max(t_read - t0, 1e-9)
    if cpu0 is not None and cpu1 is not None:
        res.server_cpu_pct = 100 * (cpu1 - cpu0) / cpu_wall
        res.other_cpu_pct = max(0.0, 100 * ((busy1 - busy0) - (cpu1 - cpu0) - (proc1 - proc0)) / cpu_wall)
    res.client_cpu_pct = 100 * (proc1 - proc0) / cpu_wall
    res.first_errors = list(st.first_errors)
    if st.exhausted_at is not None:
        res.note = ("pool ran out during warm-up" if st.exhausted_at <= t0
                    else f"pool ran out after {window:.1f} s of the window (rate is over that time)")
    return res, st


# -- setup: sign-in, visits and fees --------------------------------------------------------------------------
@dataclass(slots=True)
class Settleable:
    """A visit with an unsettled fee batch: everything a 2207 for it needs."""

    person: Person
    mdtrt_id: str
    chrg_bchno: str


class Setup:
    """Drives the setup transactions over its own connections (not timed with the load)."""

    def __init__(self, env: Envelopes, host: str, port: int, timeout: float) -> None:
        self.env = env
        self.host = host
        self.port = port
        self.timeout = timeout
        self.people = [p for p in generate() if p.psn_insu_stas == "1"]  # the mock's seed and size
        self.index = 0
        self.requests = 0
        self.seconds = 0.0

    async def call(self, conn: HttpConn, infno: str, data: dict[str, Any], insuplc: str | None = None) -> dict[str, Any]:
        request = self.env.build(infno, data, insuplc)
        status, body = await asyncio.wait_for(conn.exchange(request.raw), self.timeout)
        self.requests += 1
        reply, problem = _parse(status, body)
        if reply is None:
            raise RuntimeError(f"setup {infno}: {problem}")
        if reply["infcode"] != 0:
            raise RuntimeError(f"setup {infno}: infcode {reply['infcode']}: {reply.get('err_msg')}")
        return reply

    async def sign_in(self) -> None:
        conn = await HttpConn(self.host, self.port).open()
        try:
            reply = await self.call(conn, "9001", {"signIn": {"opter_no": "100234", "mac": "00-16-3E-00-00-01", "ip": "127.0.0.1"}})
        finally:
            conn.close()
        self.env.sign_no = reply["output"]["signinoutb"]["sign_no"]

    async def _one(self, conn: HttpConn, n: int) -> Settleable:
        person = self.people[n % len(self.people)]
        now = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        reply = await self.call(conn, "2201", register_data(self.env.run_id, person, n, now), person.insuplc_admdvs)
        visit = Settleable(person, reply["output"]["data"]["mdtrt_id"], f"CB{self.env.run_id}{n:09d}")
        await self.call(conn, "2204", fees_data(visit, now), person.insuplc_admdvs)
        return visit

    async def settleables(self, count: int, conns: int, deadline_s: float) -> list[Settleable]:
        """`count` fresh visits with fees, made over `conns` connections; bounded by count and time."""
        made: list[Settleable] = []
        start = time.perf_counter()
        stop_at = start + deadline_s
        end = self.index + count

        async def loop() -> None:
            conn = await HttpConn(self.host, self.port).open()
            try:
                while self.index < end and time.perf_counter() < stop_at:
                    n = self.index
                    self.index += 1
                    made.append(await self._one(conn, n))
            finally:
                conn.close()

        await asyncio.gather(*(loop() for _ in range(max(1, min(conns, count)))))
        self.seconds += time.perf_counter() - start
        if len(made) < count:
            raise RuntimeError(f"setup made only {len(made)} of {count} visits in {deadline_s:.0f} s")
        return made


def register_data(run_id: str, person: Person, n: int, now: str) -> dict[str, Any]:
    """The input of visit `n`'s 2201 (an outpatient number unique to the run)."""
    return {"data": {
        "psn_no": person.psn_no, "insutype": person.insutype, "begntime": now, "mdtrt_cert_type": "02",
        "mdtrt_cert_no": person.certno, "ipt_otp_no": f"B{run_id}{n:09d}", "atddr_no": "D001",
        "dr_name": "李医生", "dept_code": "A03", "dept_name": "内科", "caty": "A03"}}


def fees_data(s: Settleable, now: str) -> dict[str, Any]:
    """The input of a visit's 2204: the FEES lines, in its batch."""
    return {"feedetail": [{
        "feedetl_sn": f"{k}", "mdtrt_id": s.mdtrt_id, "psn_no": s.person.psn_no, "chrg_bchno": s.chrg_bchno,
        "rx_circ_flag": "0", "fee_ocur_time": now, "med_list_codg": codg, "medins_list_codg": local,
        "det_item_fee_sumamt": round(cnt * pric, 2), "cnt": cnt, "pric": pric, "bilg_dept_codg": "A03",
        "bilg_dept_name": "内科", "bilg_dr_codg": "D001", "bilg_dr_name": "李医生", "hosp_appr_flag": "1",
    } for k, (codg, local, cnt, pric) in enumerate(FEES, 1)]}


def settle_data(s: Settleable) -> dict[str, Any]:
    p = s.person
    return {"data": {
        "psn_no": p.psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": p.certno, "med_type": "11",
        "medfee_sumamt": FEE_TOTAL, "psn_setlway": "01", "mdtrt_id": s.mdtrt_id, "chrg_bchno": s.chrg_bchno,
        "acct_used_flag": "1", "insutype": p.insutype, "pub_hosp_rfom_flag": "1",
    }}


def presettle_data(s: Settleable) -> dict[str, Any]:
    data = settle_data(s)
    del data["data"]["pub_hosp_rfom_flag"]
    return data


# -- the spawned server ----------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class SpawnedMock:
    """`hih mock serve --interface insurance` in its own session, on a free loopback port."""

    def __init__(self, extra: list[str], ready_timeout: float = 90.0) -> None:
        hih = Path(sys.executable).with_name("hih")
        exe = str(hih) if hih.exists() else (shutil.which("hih") or "hih")
        self.port = free_port()
        self.cmd = [exe, "mock", "serve", "--interface", "insurance", "--port", f"insurance={self.port}", *extra]
        self.log = tempfile.NamedTemporaryFile(prefix="hih-mock-", suffix=".log", delete=False)  # noqa: SIM115
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=self.log, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        self.pid = self.proc.pid
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + ready_timeout
        out = b""
        while not any(line.startswith(b"ready") for line in out.splitlines()):
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                self.stop(keep_log=True)
                raise RuntimeError(f"mock did not become ready: {out[-500:]!r} (log {self.log.name})")
            ready, _, _ = select.select([fd], [], [], min(left, 1.0))
            if ready:
                out += os.read(fd, 65536)

    def stop(self, keep_log: bool = False) -> None:
        """Stop the mock; its log is removed unless `keep_log` (the mock failed and the log says why)."""
        if self.proc.poll() is None:
            os.killpg(self.pid, signal.SIGTERM)  # the session this script started for the mock
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.proc.wait(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.log.close()
        if not keep_log:
            Path(self.log.name).unlink(missing_ok=True)


# -- the run ---------------------------------------------------------------------------------------------------
def print_level(r: LevelResult) -> None:
    cpu = f"{r.server_cpu_pct:.0f}%" if r.server_cpu_pct is not None else "n/a"
    extra = f" answered={r.answered}" if r.answered else ""
    print(f"{r.workload:9s} c={r.conns:<3d} req/s={r.rate:9.1f} p50={r.p50_ms:.2f}ms p90={r.p90_ms:.2f}ms "
          f"p99={r.p99_ms:.2f}ms max={r.max_ms:.1f}ms n={r.requests} ok={r.ok}{extra} errors={r.errors} "
          f"(warm-up {r.warmup_requests}/{r.warmup_errors} err) server_cpu={cpu} client_cpu={r.client_cpu_pct:.0f}% "
          f"other_cpu={'n/a' if r.other_cpu_pct is None else f'{r.other_cpu_pct:.0f}%'} "
          f"window={r.window_s:.2f}s prepared={r.prepared} in {r.prepare_s:.2f}s"
          + (f" setup={r.setup_s:.1f}s" if r.setup_s else "") + (f" NOTE: {r.note}" if r.note else ""), flush=True)
    for e in r.first_errors[:3]:
        print(f"    error: {e}", flush=True)


def markdown(results: list[LevelResult]) -> str:
    rows = ["| workload | conns | req/s | p50 ms | p99 ms | max ms | errors | server CPU | client CPU | other CPU |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        cpu = f"{r.server_cpu_pct:.0f} %" if r.server_cpu_pct is not None else "n/a"
        other = f"{r.other_cpu_pct:.0f} %" if r.other_cpu_pct is not None else "n/a"
        rows.append(f"| {r.workload} | {r.conns} | {r.rate:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.max_ms:.1f} | "
                    f"{r.errors} | {cpu} | {r.client_cpu_pct:.0f} % | {other} |")
    return "\n".join(rows)


async def bench(args: argparse.Namespace, host: str, port: int, server_pid: int | None) -> dict[str, Any]:
    levels = [int(c) for c in args.conns.split(",") if c.strip()]
    results: list[LevelResult] = []
    report: dict[str, Any] = {"workload": args.workload, "levels": results, "setup": None}
    span = args.warmup + args.duration
    if args.workload == "raw":
        body = Path(args.body_file).read_bytes()
        request = raw_request(host, port, args.path, body)
        for c in levels:
            res, st = await run_level("raw", host, port, c, Pool([request], repeat=True, limit=args.max_requests),
                                      check_raw, args.warmup, args.duration, args.timeout, server_pid)
            res.prepared = args.max_requests
            if st.first_answer and "first_answer" not in report:
                report["first_answer"] = st.first_answer
                print(f"first answer (counted as answered): {st.first_answer}", flush=True)
            print_level(res)
            results.append(res)
        return report

    contract = ContractStore(Path(args.contracts_dir) if args.contracts_dir else None).load("insurance", args.contract)
    paasid = os.environ.get("HIH_INSURANCE_PAASID", TEST_PAASID)
    secret = os.environ.get("HIH_INSURANCE_SECRET", TEST_SECRET)
    env = Envelopes(contract, host, port, paasid, secret)
    setup = Setup(env, host, port, args.timeout)
    t = time.perf_counter()
    await setup.sign_in()
    sign_in_s = time.perf_counter() - t
    estimate = 0.0
    leftover: list[Settleable] = []
    if args.workload == "presettle":
        visit = (await setup.settleables(1, 1, 60))[0]
        # Calibrate the pool size with a short run (discarded).
        cal = [env.build("2206", presettle_data(visit), visit.person.insuplc_admdvs) for _ in range(args.calibrate)]
        res, _ = await run_level("calib", host, port, 8, Pool(cal), check_settlement, 0, 1.0, args.timeout, server_pid)
        estimate = res.rate
        print(f"calibration: {res.rate:.0f} req/s at 8 connections over {res.window_s:.1f} s", flush=True)
    else:
        visit = None
        calib = min(args.calibrate, args.max_pool)
        leftover = await setup.settleables(calib, args.setup_conns, args.setup_timeout)
        estimate = setup.requests / max(setup.seconds, 1e-9)
    for c in levels:
        need = args.pool or min(args.max_pool, int(estimate * 1.5 * span) + 4 * c + 100)
        setup_before = setup.seconds
        if args.workload == "settle":
            if len(leftover) < need:
                leftover.extend(await setup.settleables(need - len(leftover), args.setup_conns, args.setup_timeout))
            chosen = leftover[:need]
            t = time.perf_counter()
            now = time.time()
            prepared = [env.build("2207", settle_data(s), s.person.insuplc_admdvs, now) for s in chosen]
        else:
            assert visit is not None
            chosen = []
            t = time.perf_counter()
            now = time.time()
            data, insuplc = presettle_data(visit), visit.person.insuplc_admdvs
            prepared = [env.build("2206", data, insuplc, now) for _ in range(need)]
        prepare_s = time.perf_counter() - t
        if prepare_s + span + args.timeout > MAX_SIGN_AGE_S:
            raise SystemExit(f"building {need} requests took {prepare_s:.0f} s: signatures would go stale; lower --pool")
        pool = Pool(prepared)
        print(f"[{args.workload} c={c}: {need} requests prepared, setup {setup.seconds - setup_before:.1f} s; "
              f"warm-up {args.warmup:g} s, then {args.duration:g} s measured]", file=sys.stderr, flush=True)
        res, _ = await run_level(args.workload, host, port, c, pool, check_settlement, args.warmup, args.duration,
                                 args.timeout, server_pid, args.rate)
        res.prepared, res.prepare_s, res.setup_s = need, round(prepare_s, 3), round(setup.seconds - setup_before, 3)
        if args.workload == "settle":
            leftover = leftover[pool.taken:]  # the visits never posted keep their unsettled fee batch
        print_level(res)
        results.append(res)
        estimate = max(estimate, res.rate)
    report["setup"] = {"sign_in_s": round(sign_in_s, 4), "requests": setup.requests, "seconds": round(setup.seconds, 3),
                       "requests_per_s": round(setup.requests / max(setup.seconds, 1e-9), 1),
                       "visits": setup.index, "conns": args.setup_conns}
    print(f"setup: sign-in {sign_in_s * 1000:.1f} ms; {setup.index} visits with fees = {setup.requests} requests "
          f"(2201 + 2204) in {setup.seconds:.1f} s = {report['setup']['requests_per_s']:.0f} req/s "
          f"over {args.setup_conns} connections", flush=True)
    return report


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("url", nargs="?", help="a running insurance mock, http://127.0.0.1:PORT (or use --spawn)")
    ap.add_argument("--spawn", action="store_true", help="start `hih mock serve --interface insurance` for the run")
    ap.add_argument("--serve-arg", action="append", default=[], help="extra argument for the spawned `hih mock serve`")
    ap.add_argument("--server-pid", type=int, help="pid of the server under URL, for its CPU share")
    ap.add_argument("--workload", choices=("settle", "presettle", "raw"), default="settle")
    ap.add_argument("--conns", default="1,8,64", help="concurrency levels (default 1,8,64)")
    ap.add_argument("--warmup", type=float, default=3.0, help="seconds of discarded load per level (default 3)")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds measured per level (default 10)")
    ap.add_argument("--rate", type=float, default=0.0,
                    help="open loop: offer this many requests/s in total, spread over the connections, and measure "
                         "latency from each request's scheduled time (default: closed loop)")
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for a reply still in flight")
    ap.add_argument("--pool", type=int, default=0, help="requests prepared per level (default: sized from the rate seen)")
    ap.add_argument("--max-pool", type=int, default=150_000, help="cap on requests prepared per level")
    ap.add_argument("--calibrate", type=int, default=2_000, help="visits (settle) or requests (presettle) to size the pool")
    ap.add_argument("--setup-conns", type=int, default=16, help="connections used by the setup phase")
    ap.add_argument("--setup-timeout", type=float, default=300.0, help="seconds allowed for one setup batch")
    ap.add_argument("--max-requests", type=int, default=5_000_000, help="raw: requests allowed per level")
    ap.add_argument("--body-file", default=str(DEFAULT_BODY), help="raw: the body posted")
    ap.add_argument("--path", default=RAW_PATH, help="raw: the path posted to")
    ap.add_argument("--contract", help="insurance contract version (default: the newest)")
    ap.add_argument("--contracts-dir", help="contracts folder (default: the project's)")
    ap.add_argument("--json", help="also write the results to this JSON file")
    args = ap.parse_args(argv)
    if bool(args.url) == bool(args.spawn):
        ap.error("give either a URL or --spawn")
    if args.warmup + args.duration + args.timeout > MAX_SIGN_AGE_S - 30:
        ap.error("warm-up + duration + timeout must stay under 210 s (signatures are checked within 300 s)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    server: SpawnedMock | None = None
    if args.spawn:
        server = SpawnedMock(args.serve_arg)
        host, port, pid = "127.0.0.1", server.port, server.pid
        print(f"spawned: {' '.join(server.cmd)} (pid {pid})", flush=True)
    else:
        parts = urlsplit(args.url)
        if parts.scheme != "http" or parts.hostname != "127.0.0.1" or not parts.port:
            raise SystemExit("the target must be http://127.0.0.1:PORT (load goes to this machine's loopback only)")
        host, port, pid = "127.0.0.1", parts.port, args.server_pid
    try:
        report = uvloop.run(bench(args, host, port, pid))
    finally:
        if server is not None:
            server.stop()
    print()
    print(markdown(report["levels"]))
    failed = any(r.errors for r in report["levels"])
    if args.json:
        report["levels"] = [asdict(r) for r in report["levels"]]
        report["args"] = vars(args)
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, ensure_ascii=False, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
