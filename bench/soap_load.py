#!/usr/bin/env python3
"""SOAP calls per second through the SOAP mock transport, with the example contract of the tests.

The server runs in a child process: `HttpTransport(SoapHandler(...))` on the shared Runtime (the mocks' lean HTTP
server, as the SOAP mocks are served; `--server uvicorn` for uvicorn), serving
tests/data/soap/example (SubmitOrder: auth header, XSD-validated request and reply, zeep decode and encode). The
client keeps C keep-alive HTTP/1.1 connections (raw asyncio streams, one request in flight each) posting a fixed,
valid SubmitOrder envelope, and checks every reply (HTTP 200 and ResultCode 0). Per level: warm-up (discarded),
then a measured window; calls/s, p50/p99/max latency, errors and the server's CPU share (100 % = one core).
`--inprocess` also measures the handler alone (parse, validate, auth, decode, behaviour, encode, validate the
reply) without HTTP, in calls per CPU second.

    .venv/bin/python bench/soap_load.py                           # C = 1, 8, 64; 2 s warm-up + 5 s
    .venv/bin/python bench/soap_load.py --conns 8,64 --workers 2  # two serving processes on one port (both cores)
    .venv/bin/python bench/soap_load.py --conns 8 --duration 10 --inprocess --json bench/results/soap.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.contract.loader import load_contract  # noqa: E402
from harness.contract.model import Contract  # noqa: E402
from mocks.transport.faults import FaultPlan  # noqa: E402
from mocks.transport.http import HttpRequest  # noqa: E402
from mocks.transport.journal import Exchange, Journal  # noqa: E402
from mocks.transport.soap import SoapContext, SoapHandler, soap_app  # noqa: E402

CONTRACT = ROOT / "tests" / "data" / "soap" / "example" / "2025.1"
HOSPITAL, TOKEN = "H33010600001", "example-token"
ENVELOPE = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ex="urn:hih:example:service">'
    f"<soap:Header><ex:AuthHeader><ex:HospitalCode>{HOSPITAL}</ex:HospitalCode><ex:Token>{TOKEN}</ex:Token>"
    "</ex:AuthHeader></soap:Header><soap:Body><ex:SubmitOrder><ex:order><ex:orderNo>ORD20250101001</ex:orderNo>"
    "<ex:urgency>URGENT</ex:urgency><ex:wantedAt>2025-01-01T10:30:00+08:00</ex:wantedAt>"
    "<ex:item><ex:productCode>E0001</ex:productCode><ex:aboGroup>A</ex:aboGroup><ex:quantity>2</ex:quantity></ex:item>"
    "<ex:item><ex:productCode>E0002</ex:productCode><ex:aboGroup>O</ex:aboGroup><ex:quantity>1</ex:quantity></ex:item>"
    "</ex:order></ex:SubmitOrder></soap:Body></soap:Envelope>"
).encode()
ANSWER = {"ResultCode": "0", "ResultMessage": "成功", "orderId": "EX000001", "status": "RECEIVED"}


def handlers() -> dict[str, Any]:
    def submit(request: Any, context: SoapContext) -> dict[str, Any]:
        return ANSWER

    return {"SubmitOrder": submit}


def authenticate(credentials: dict[str, str], context: SoapContext) -> str | None:
    return None if credentials == {"HospitalCode": HOSPITAL, "Token": TOKEN} else "bad credentials"


def serve(folder: str, ready: Any, port: int = 0, reuse_port: bool = False, lean: bool = True) -> None:
    from mocks.transport.runtime import Runtime

    contract = load_contract(Path(folder))
    runtime = Runtime().start()
    listener = runtime.serve_http(soap_app(contract, handlers(), Journal(1000), FaultPlan(), authenticate=authenticate),
                                  port=port, reuse_port=reuse_port, lean=lean)
    ready.send(listener.port)
    while True:
        time.sleep(3600)


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Conn:
    def __init__(self, port: int) -> None:
        self.port = port
        self.request = (f"POST /ExampleService HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: text/xml; charset=utf-8\r\n"
                        f'SOAPAction: "urn:hih:example:SubmitOrder"\r\nContent-Length: {len(ENVELOPE)}\r\n\r\n').encode() + ENVELOPE

    async def open(self) -> Conn:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        return self

    async def call(self) -> tuple[int, bytes]:
        self.writer.write(self.request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        return status, await self.reader.readexactly(length)


def cpu_all(pids: list[int]) -> float:
    return sum(cpu_s(pid) for pid in pids)


async def level(port: int, conns: int, warmup: float, duration: float, server_pids: list[int]) -> dict[str, Any]:
    connections = [await Conn(port).open() for _ in range(conns)]
    latencies: list[float] = []
    errors = 0
    measuring = False
    stop = False

    async def loop(conn: Conn) -> None:
        nonlocal errors
        while not stop:
            started = time.perf_counter()
            status, body = await conn.call()
            if measuring:
                latencies.append(time.perf_counter() - started)
                if status != 200 or b"<ns0:ResultCode>0</ns0:ResultCode>" not in body:
                    errors += 1

    tasks = [asyncio.ensure_future(loop(c)) for c in connections]
    await asyncio.sleep(warmup)
    measuring = True
    cpu0, t0 = cpu_all(server_pids), time.perf_counter()
    await asyncio.sleep(duration)
    measuring = False
    cpu1, t1 = cpu_all(server_pids), time.perf_counter()
    stop = True
    await asyncio.gather(*tasks)
    for c in connections:
        c.writer.close()
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else float("nan")

    return {"conns": conns, "calls": len(latencies), "calls_per_s": len(latencies) / (t1 - t0), "p50_ms": pct(0.5),
            "p99_ms": pct(0.99), "max_ms": latencies[-1] * 1000 if latencies else float("nan"), "errors": errors,
            "server_cpu": (cpu1 - cpu0) / (t1 - t0)}


def inprocess(contract: Contract, seconds: float) -> dict[str, Any]:
    handler = SoapHandler(contract, handlers(), authenticate=authenticate)
    request = HttpRequest("POST", "/ExampleService", "", {"content-type": "text/xml; charset=utf-8",
                                                          "soapaction": '"urn:hih:example:SubmitOrder"'}, ENVELOPE)

    async def run() -> tuple[int, float]:
        calls = 0
        start = time.process_time()
        while time.process_time() - start < seconds:
            for _ in range(100):
                reply = await handler.handle(request, Exchange("example", "http", "SubmitOrder", ENVELOPE))
                assert reply.status == 200 and not reply.findings, reply.body
            calls += 100
        return calls, time.process_time() - start

    calls, spent = asyncio.run(run())
    return {"calls": calls, "calls_per_cpu_s": calls / spent, "cpu_ms_per_call": spent / calls * 1000}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contract", default=str(CONTRACT))
    parser.add_argument("--conns", default="1,8,64")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--inprocess", action="store_true", help="also time the handler alone, without HTTP")
    parser.add_argument("--workers", type=int, default=1,
                        help="serving processes sharing the port (SO_REUSEPORT); server CPU is their sum (100 %% = one core)")
    parser.add_argument("--server", choices=("lean", "uvicorn"), default="lean",
                        help="the HTTP server: the mocks' lean one (what the SOAP mocks are served by) or uvicorn")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    contract = load_contract(Path(args.contract))
    results: dict[str, Any] = {"contract": contract.ref, "operation": "SubmitOrder", "workers": args.workers,
                               "load_average": os.getloadavg()[0], "levels": []}
    print(f"load average {os.getloadavg()[0]:.2f}")
    if args.inprocess:
        results["inprocess"] = inprocess(contract, 3.0)
        r = results["inprocess"]
        print(f"handler alone: {r['calls_per_cpu_s']:,.0f} calls per CPU second ({r['cpu_ms_per_call']:.3f} ms CPU per call)")
    children: list[multiprocessing.Process] = []
    port = 0
    try:
        for _ in range(args.workers):  # the first picks the port; the others listen on it too (SO_REUSEPORT)
            here, there = multiprocessing.Pipe()
            lean = args.server == "lean"
            child = multiprocessing.Process(target=serve, args=(args.contract, there, port, args.workers > 1, lean),
                                            daemon=True)
            child.start()
            children.append(child)
            port = here.recv()
        pids = [c.pid for c in children if c.pid is not None]
        print(f"{args.workers} serving process(es) on port {port}")
        print(f"{'conns':>5} {'calls/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'errors':>6} {'server CPU':>10}")
        for conns in (int(c) for c in args.conns.split(",")):
            r = asyncio.run(level(port, conns, args.warmup, args.duration, pids))
            results["levels"].append(r)
            print(f"{r['conns']:>5} {r['calls_per_s']:>9,.0f} {r['p50_ms']:>7.2f} {r['p99_ms']:>7.2f} {r['max_ms']:>7.1f} "
                  f"{r['errors']:>6} {r['server_cpu']:>9.0%}")
    finally:
        for child in children:
            child.terminate()
            child.join(5)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    return 1 if any(r["errors"] for r in results["levels"]) else 0


if __name__ == "__main__":
    sys.exit(main())
