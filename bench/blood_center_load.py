#!/usr/bin/env python3
"""SOAP calls per second against the blood-centre training server: SubmitBloodOrder and DownloadIssuedUnits.

The server is the real thing, `hih mock serve --interface blood-center` in a child process (in-memory store, or
`--state FILE` for SQLite): auth header, strict XSD validation of request and reply, zeep decode and encode, the
centre's rules. The client keeps C keep-alive HTTP/1.1 connections (raw asyncio streams, one request in flight
each). SubmitBloodOrder sends a new order number each call (the order is stored); DownloadIssuedUnits asks for the
issue note of an order issued before the run (accepted and issued through the console). Every reply is checked
(HTTP 200 and ResultCode 0).

Closed loop (default): each connection sends its next request when the reply arrives; at 64 connections the p99 is
queueing (Little's law: 64 in flight / calls per second). Open loop (`--rate R`): requests are sent on a fixed
schedule, R per second over all connections, and latency runs from the scheduled send time, so a stall is not
hidden by the client waiting for it.

    .venv/bin/python bench/blood_center_load.py                                   # C = 1, 8, 64; 2 s warm-up + 5 s
    .venv/bin/python bench/blood_center_load.py --conns 8,64 --rate 1000          # open loop at 1,000 calls/s offered
    .venv/bin/python bench/blood_center_load.py --state /tmp/bc.sqlite --json bench/results/blood_center.json
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.procstat import machine_busy_s, tree_cpu_s  # noqa: E402
from mocks.blood_center.service import TEST_HOSPITAL, TEST_TOKEN  # noqa: E402

PATH = "/BloodCenterService"
HEAD = ('<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:t="urn:hih:blood-center:service"><s:Header><t:AuthHeader>'
        f"<t:HospitalCode>{TEST_HOSPITAL}</t:HospitalCode><t:Token>{TEST_TOKEN}</t:Token></t:AuthHeader></s:Header><s:Body>")
ORDER = ("<t:SubmitBloodOrder><t:order><t:orderNo>{no}</t:orderNo><t:urgency>URGENT</t:urgency>"
         "<t:wantedAt>2026-12-01T10:00:00</t:wantedAt><t:department>心胸外科</t:department><t:orderedBy>王医生</t:orderedBy>"
         "<t:item><t:lineNo>1</t:lineNo><t:productCode>E0001</t:productCode><t:abo>A</t:abo><t:rhd>POS</t:rhd>"
         "<t:quantity>2</t:quantity><t:unit>U</t:unit></t:item><t:item><t:lineNo>2</t:lineNo><t:productCode>E0004</t:productCode>"
         "<t:abo>A</t:abo><t:rhd>POS</t:rhd><t:quantity>400</t:quantity><t:unit>mL</t:unit></t:item></t:order></t:SubmitBloodOrder>")
DOWNLOAD = "<t:DownloadIssuedUnits><t:orderNo>BENCH0000001</t:orderNo></t:DownloadIssuedUnits>"
OK = b"<ns0:ResultCode>0</ns0:ResultCode>"


def serve(state: str | None, workers: str = "1", interface: str = "blood-center") -> tuple[subprocess.Popen[str], str]:
    """`hih mock serve --interface INTERFACE` (`--workers`, `--state`) in a child process; it and the URL it serves."""
    hih = Path(sys.executable).with_name("hih")
    command = [str(hih), "mock", "serve", "--interface", interface, "--workers", workers] + (["--state", state] if state else [])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HIH_ADMIN", "HIH_CONSOLE", "HIH_BLOOD", "HIH_MCH"))}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout or []], daemon=True).start()
    url = ""
    while True:
        line = lines.get(timeout=30)
        if line.startswith(interface + "\t"):
            url = line.split("\t")[1]
        if line.startswith("ready"):
            return process, url


def post(path: str, action: str, envelope: str) -> bytes:
    """An HTTP/1.1 SOAP request (the Host header is the load's loopback address)."""
    raw = envelope.encode()
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml; charset=utf-8\r\n"
            f'SOAPAction: "{action}"\r\nContent-Length: {len(raw)}\r\n\r\n').encode() + raw


def blood_request(operation: str, numbers: itertools.count[int]) -> Callable[[], bytes]:
    """The next request of `operation`: SubmitBloodOrder with a new order number each time, or DownloadIssuedUnits."""
    def build() -> bytes:
        body = ORDER.format(no=f"B{next(numbers):011d}") if operation == "SubmitBloodOrder" else DOWNLOAD
        return post(PATH, f"urn:hih:blood-center:{operation}", HEAD + body + "</s:Body></s:Envelope>")

    return build


class Conn:
    def __init__(self, host: str, port: int, build: Callable[[], bytes]) -> None:
        self.host, self.port, self.build = host, port, build

    async def open(self) -> Conn:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def call(self) -> tuple[int, bytes]:
        self.writer.write(self.build())
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        return int(head.split(b" ", 2)[1]), await self.reader.readexactly(length)


async def level(host: str, port: int, operation: str, build: Callable[[], bytes], ok: bytes, conns: int, warmup: float,
                duration: float, rate: float, pid: int) -> dict[str, Any]:
    """C connections calling `build()`'s requests, each reply checked (HTTP 200 and `ok` in the body); the server's
    CPU is the serving process's and its workers'."""
    connections = [await Conn(host, port, build).open() for _ in range(conns)]
    latencies: list[float] = []
    errors = 0
    measuring = stop = False
    interval = conns / rate if rate else 0.0

    async def loop(index: int, conn: Conn) -> None:
        nonlocal errors
        due = time.perf_counter() + index * interval / conns
        while not stop:
            if interval:
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                started, due = due, due + interval
            else:
                started = time.perf_counter()
            status, body = await conn.call()
            if measuring:
                latencies.append(time.perf_counter() - started)
                if status != 200 or ok not in body:
                    errors += 1

    tasks = [asyncio.ensure_future(loop(i, c)) for i, c in enumerate(connections)]
    await asyncio.sleep(warmup)
    gc.collect()
    gc.freeze()
    gc.disable()  # the load generator's own collector stays out of the measured window
    measuring = True
    cpu0, busy0, t0 = tree_cpu_s(pid) or 0.0, machine_busy_s(), time.perf_counter()
    own0 = time.process_time()
    await asyncio.sleep(duration)
    measuring = False
    own1 = time.process_time()
    cpu1, busy1, t1 = tree_cpu_s(pid) or 0.0, machine_busy_s(), time.perf_counter()
    gc.enable()
    stop = True
    await asyncio.gather(*tasks)
    for c in connections:
        c.writer.close()
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else float("nan")

    return {"operation": operation, "conns": conns, "offered": rate or None, "calls": len(latencies),
            "calls_per_s": len(latencies) / (t1 - t0), "p50_ms": pct(0.5), "p99_ms": pct(0.99),
            "max_ms": latencies[-1] * 1000 if latencies else float("nan"), "errors": errors,
            "server_cpu": (cpu1 - cpu0) / (t1 - t0), "load_cpu": (own1 - own0) / (t1 - t0),
            "machine_busy": (busy1 - busy0) / (t1 - t0)}


def show(r: dict[str, Any]) -> None:
    """One row of the table `level`'s results are printed in."""
    print(f"{r['operation']:<20} {r['conns']:>5} {r['calls_per_s']:>9,.0f} {r['p50_ms']:>7.2f} {r['p99_ms']:>7.2f} "
          f"{r['max_ms']:>7.1f} {r['errors']:>6} {r['server_cpu']:>9.0%} {r['load_cpu']:>8.0%} {r['machine_busy']:>7.0%}",
          flush=True)


def levels(host: str, port: int, args: argparse.Namespace, request_for: Callable[[str], Callable[[], bytes]],
           ok: bytes, pid: int) -> list[dict[str, Any]]:
    """Every operation of `--operations` at every level of `--conns`, a table line printed as each ends."""
    print(f"{'operation':<20} {'conns':>5} {'calls/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'errors':>6} "
          f"{'server CPU':>10} {'load CPU':>8} {'machine':>8}")
    results = []
    for operation in args.operations.split(","):
        for conns in (int(c) for c in args.conns.split(",")):
            r = asyncio.run(level(host, port, operation, request_for(operation), ok, conns, args.warmup, args.duration,
                                  getattr(args, "rate", 0.0) or 0.0, pid))
            results.append(r)
            show(r)
    return results


def prepare(base: str) -> None:
    """One issued order for DownloadIssuedUnits: submitted over SOAP, accepted and issued through the console."""
    import httpx

    raw = (HEAD + ORDER.format(no="BENCH0000001") + "</s:Body></s:Envelope>").encode()
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"urn:hih:blood-center:SubmitBloodOrder"'}
    assert OK in httpx.post(base + PATH, content=raw, headers=headers, timeout=10).content
    key = quote(f"{TEST_HOSPITAL}/BENCH0000001")
    for action in ("accept", "issue"):
        httpx.post(f"{base}/console/orders/{key}/{action}", timeout=10)
    check = (HEAD + DOWNLOAD + "</s:Body></s:Envelope>").encode()
    reply = httpx.post(base + PATH, content=check, timeout=10,
                       headers={**headers, "SOAPAction": '"urn:hih:blood-center:DownloadIssuedUnits"'}).content
    assert OK in reply and reply.count(b"<ns0:din>") >= 2, reply[:400]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--operations", default="SubmitBloodOrder,DownloadIssuedUnits")
    parser.add_argument("--conns", default="1,8,64")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=0.0, help="open loop: calls per second offered over all connections")
    parser.add_argument("--state", help="SQLite state file for the server (default: in memory)")
    parser.add_argument("--workers", default="1", help="hih mock serve --workers (N or auto)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    process, base = serve(args.state, args.workers)
    results: list[dict[str, Any]] = []
    try:
        prepare(base)
        where = urlsplit(base)
        numbers = itertools.count(1)
        mode = f"open loop, {args.rate:,.0f}/s offered" if args.rate else "closed loop"
        print(f"{mode}; state {'SQLite ' + args.state if args.state else 'in memory'}; --workers {args.workers}; "
              f"load average {os.getloadavg()[0]:.2f}")
        results += levels(where.hostname or "127.0.0.1", where.port or 80, args,
                          lambda operation: blood_request(operation, numbers), OK, process.pid)
    finally:
        process.terminate()
        process.wait(10)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"state": args.state, "rate": args.rate, "workers": args.workers,
                                         "levels": results}, indent=2))
    return 1 if any(r["errors"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
