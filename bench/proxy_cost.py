#!/usr/bin/env python3
"""What `hih proxy` adds to each exchange: p50 latency through the proxy minus p50 straight to the partner.

Starts `hih mock serve` (the upstream) and `hih proxy` in front of it (recording to a temporary folder, identifiers
masked, as in use), then keeps C keep-alive connections (raw asyncio streams: no client library in the timing),
each with at most one request in flight, alternately straight to the mock and through the proxy, in rounds, so
that both see the same machine. By default the connections offer a fixed rate (`--rate`, open loop: a hospital's
traffic, latency counted from when a request was due); `--rate 0` sends as fast as replies come (closed loop: the
machine saturated, where a proxy's extra CPU shows as queueing rather than as its own cost). Every reply is checked. Reports per target p50/p90/p99 and the difference of the p50s (the
proxy's cost, the budget being 1 ms at 8 connections), and the machine's busy share (other load skews it).

Workloads by `--interface`:
  insurance  1101 person queries, TIF-signed with a fresh nonce each (JSON over HTTP);
  lis        ADT^A04 registrations with a unique MSH-10 each (HL7 v2 over MLLP).

  proxy_cost.py [--interface insurance|lis] [--conns 8] [--rate 400] [--rounds 3] [--seconds 3] [--no-record]
                [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from procstat import machine_busy_s  # bench/ is the script directory

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.contract.loader import ContractStore  # noqa: E402
from harness.contract.signing import tif_headers  # noqa: E402
from mocks.insurance import TEST_PAASID, TEST_SECRET  # noqa: E402
from mocks.population import generate  # noqa: E402

HIH = str(ROOT / ".venv" / "bin" / "hih")
SERIAL = itertools.count(1)
"""msgids unique across the connections (the mock refuses a msgid seen before)."""
SB, END = b"\x0b", b"\x1c\r"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start(command: list[str]) -> subprocess.Popen[str]:
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    for line in process.stdout:
        if line.startswith("ready"):
            return process
        if time.monotonic() > deadline:
            break
    process.kill()
    raise SystemExit(f"{' '.join(command[:4])} did not start")


def stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()


# -- workloads: (open a connection) -> (send one request, return an error text or "") --------------------------------
Exchange = Callable[[], Awaitable[str]]


async def insurance_client(port: int) -> Exchange:
    contract = ContractStore(ROOT / "contracts").load("insurance")
    assert contract.http is not None
    path = f"{contract.http.base_path}/{contract.operations['1101'].path}"
    people = generate()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    serial = SERIAL
    sign_no = await _sign_in(reader, writer, contract, path.replace(contract.operations["1101"].path,
                                                                    contract.operations["9001"].path), serial)

    async def one() -> str:
        n = next(serial)
        person = people[n % len(people)]
        body = _envelope("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": person.certno,
                                           "psn_cert_type": "01"}}, n, sign_no)
        status, reply = await _post(reader, writer, path, body, tif_headers(contract.signing, TEST_PAASID, TEST_SECRET))
        if status != 200 or b'"infcode":0' not in reply.replace(b" ", b""):
            return f"HTTP {status} {reply[:120]!r}"
        return ""

    return one


def _envelope(infno: str, data: dict[str, Any], n: int, sign_no: str) -> bytes:
    now = datetime.now()
    body = {"infno": infno, "msgid": f"H33010600001{now:%Y%m%d%H%M%S}{n % 10_000:04d}", "mdtrtarea_admvs": "330100",
            "recer_sys_code": "YBXT", "infver": "V1.0", "opter_type": "1", "opter": "100234", "opter_name": "收费员",
            "inf_time": f"{now:%Y-%m-%d %H:%M:%S}", "fixmedins_code": "H33010600001", "fixmedins_name": "示例医院",
            "sign_no": sign_no, "input": data}
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


async def _sign_in(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, contract: Any, path: str,
                   serial: itertools.count[int]) -> str:
    body = _envelope("9001", {"signIn": {"opter_no": "100234", "mac": "00-16-3E-00-00-01", "ip": "10.0.0.10"}},
                     next(serial), "")
    status, reply = await _post(reader, writer, path, body, tif_headers(contract.signing, TEST_PAASID, TEST_SECRET))
    answer = json.loads(reply)
    if status != 200 or not answer.get("output"):
        raise SystemExit(f"sign-in refused: HTTP {status} {reply[:200]!r}")
    sign_no: str = answer["output"]["signinoutb"]["sign_no"]
    return sign_no


async def _post(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str, body: bytes,
                headers: dict[str, str]) -> tuple[int, bytes]:
    head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json;charset=utf-8",
            f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in headers.items())]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
    status_line = await reader.readline()
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return int(status_line.split()[1]), await reader.readexactly(length)


async def lis_client(port: int) -> Exchange:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    serial = itertools.count(1)
    prefix = f"B{os.getpid() % 1000:03d}{id(writer) % 10_000:04d}"

    async def one() -> str:
        n = next(serial)
        now = datetime.now()
        control = f"{prefix}{n:08d}"
        text = "\r".join([
            f"MSH|^~\\&|HIS|HOSP|LIS|LAB|{now:%Y%m%d%H%M%S}||ADT^A04^ADT_A01|{control}|P|2.5.1|||||CHN|UNICODE UTF-8",
            f"EVN|A04|{now:%Y%m%d%H%M%S}", f"PID|1||MR{n:06d}^^^HOSP^MR||张三||19900307|M",
            f"PV1|1|O|||||||||||||||||V{n:06d}"]) + "\r"
        writer.write(SB + text.encode("utf-8") + END)
        reply = await reader.readuntil(END)
        if b"MSA|AA|" + control.encode() not in reply:
            return f"not AA: {reply[:160]!r}"
        return ""

    return one


WORKLOADS = {"insurance": insurance_client, "lis": lis_client}


async def measure(port: int, interface: str, conns: int, seconds: float, rate: float) -> tuple[list[float], int]:
    """Latencies (ms) of the exchanges of `seconds`: each connection sends its next request as soon as its reply came
    (closed loop, `rate` 0), or at `rate / conns` per second, a request waiting for its connection to be free (open
    loop: latency counted from when it was due)."""
    clients = [await WORKLOADS[interface](port) for _ in range(conns)]
    for one in clients:  # warm up each connection
        for _ in range(3):
            await one()
    times: list[float] = []
    errors = 0
    begin = time.perf_counter()
    end = begin + seconds
    gap = conns / rate if rate else 0.0

    async def loop(index: int, one: Exchange) -> None:
        nonlocal errors
        due = begin + gap * index / conns
        while True:
            if gap:
                due += gap
                if due >= end:
                    return
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
            elif time.perf_counter() >= end:
                return
            started = due if gap else time.perf_counter()
            problem = await asyncio.wait_for(one(), 30)
            times.append((time.perf_counter() - started) * 1000)
            if problem:
                errors += 1
                if errors <= 3:
                    print(f"  error: {problem}", file=sys.stderr)

    await asyncio.gather(*(loop(i, c) for i, c in enumerate(clients)))
    return times, errors


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--interface", choices=sorted(WORKLOADS), default="insurance")
    parser.add_argument("--conns", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rate", type=float, default=400.0,
                        help="exchanges per second over all connections (open loop); 0: closed loop, as fast as it goes")
    parser.add_argument("--no-record", action="store_true", help="the proxy without --record")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    mock_port, proxy_port = free_port(), free_port()
    mock = start([HIH, "mock", "serve", "--interface", args.interface, "--port", f"{args.interface}={mock_port}"])
    upstream = f"127.0.0.1:{mock_port}" if args.interface == "lis" else f"http://127.0.0.1:{mock_port}"
    with tempfile.TemporaryDirectory(prefix="hih-proxy-bench-") as folder:
        command = [HIH, "proxy", "--interface", args.interface, "--upstream", upstream,
                   "--port", f"{args.interface}={proxy_port}"]
        if not args.no_record:
            command += ["--record", str(Path(folder) / "recording")]
        proxy = start(command)
        results: dict[str, list[float]] = {"direct": [], "proxy": []}
        errors = 0
        busy0, wall0 = machine_busy_s(), time.monotonic()
        try:
            for _ in range(args.rounds):
                for target, port in (("direct", mock_port), ("proxy", proxy_port)):
                    times, failed = asyncio.run(measure(port, args.interface, args.conns, args.seconds, args.rate))
                    results[target].extend(times)
                    errors += failed
        finally:
            stop(proxy)
            stop(mock)
        busy = (machine_busy_s() - busy0) / (time.monotonic() - wall0) / (os.cpu_count() or 1)
    summary: dict[str, Any] = {"interface": args.interface, "conns": args.conns, "rate": args.rate or "closed loop",
                               "record": not args.no_record,
                               "errors": errors, "machine_busy": round(busy, 3)}
    for target, times in results.items():
        summary[target] = {"exchanges": len(times), "p50_ms": round(percentile(times, 0.5), 3),
                           "p90_ms": round(percentile(times, 0.9), 3), "p99_ms": round(percentile(times, 0.99), 3)}
    summary["proxy_cost_p50_ms"] = round(summary["proxy"]["p50_ms"] - summary["direct"]["p50_ms"], 3)
    load = f"{args.rate:g} exchanges/s offered" if args.rate else "closed loop"
    print(f"{args.interface}, {args.conns} connections, {load}, recording {'on' if not args.no_record else 'off'}, "
          f"machine busy {busy:.0%}")
    for target in ("direct", "proxy"):
        s = summary[target]
        print(f"  {target:<7} {s['exchanges']:>7} exchanges  p50 {s['p50_ms']:.3f} ms  p90 {s['p90_ms']:.3f} ms  "
              f"p99 {s['p99_ms']:.3f} ms")
    print(f"  proxy cost at p50: {summary['proxy_cost_p50_ms']:.3f} ms   errors: {errors}")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
