#!/usr/bin/env python3
"""Closed-loop MLLP load on the MLLP mock transport: ACKed ORU^R01 (20 OBX) messages/s and round-trip latency.

By default it spawns a server process (`--serve`): `mocks.transport.mllp.MllpServer` on the shared `Runtime`
(uvloop), journal and fault plan on, with a fixed handler (`--handler accept`: AcceptAll, every message decoded,
parsed, screened, de-duplicated, acknowledged and journaled; `--handler contract`: ContractHandler, each message
also validated against contracts/lis/2024.1; `--handler lis`: the mock LIS itself (`mocks.lis.LisMock`), loaded
with OML^O21 orders, each validated, kept in its store and answered with an ORL^O22; `--handler connector`: the
reference LIS connector's listener (`connectors.lis`), each ORU^R01 validated and committed to SQLite (WAL)
before its ACK). The client keeps C persistent connections with one message in
flight each; every message is an ORU^R01 v2.5.1 (20 OBX, Chinese text, UTF-8, ~2.3 KB) with a unique MSH-10; every
ACK is checked: MSA-1 AA and MSA-2 equal to the MSH-10 sent. Per level: connect, warm up (discarded), measure.
It reports messages/s, p50/p90/p99/max round trip (from the write to the ACK frame parsed), errors, and the CPU
share of the server process (/proc/<pid>/stat), of this client and of everything else on the machine (other CPU:
other tenants and the kernel; 100 % = one core). Loopback only.

    .venv/bin/python bench/mllp_load.py                               # C = 1, 8, 64; 2 s warm-up, 5 s measured
    .venv/bin/python bench/mllp_load.py --conns 8 --duration 10 --json bench/results/mllp.json
    .venv/bin/python bench/mllp_load.py --handler contract
    .venv/bin/python bench/mllp_load.py --handler lis          # the mock LIS behaviour in the loop (orders)
    .venv/bin/python bench/mllp_load.py --handler connector    # the hospital side: results stored, then ACKed
    .venv/bin/python bench/mllp_load.py --port PORT [--server-pid PID]   # an MLLP server already running
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

from procstat import machine_busy_s, tree_cpu_s  # bench/ is the script directory

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SB, END = b"\x0b", b"\x1c\r"
RESULTS = [  # code, name, value, units, range, flag
    ("WBC", "白细胞计数", "6.52", "10*9/L", "3.5-9.5", "N"), ("RBC", "红细胞计数", "4.61", "10*12/L", "4.3-5.8", "N"),
    ("HGB", "血红蛋白", "142", "g/L", "130-175", "N"), ("HCT", "红细胞压积", "42.1", "%", "40-50", "N"),
    ("MCV", "平均红细胞体积", "91.3", "fL", "82-100", "N"), ("MCH", "平均血红蛋白量", "30.8", "pg", "27-34", "N"),
    ("MCHC", "平均血红蛋白浓度", "337", "g/L", "316-354", "N"), ("PLT", "血小板计数", "118", "10*9/L", "125-350", "L"),
    ("NEUT%", "中性粒细胞百分比", "61.2", "%", "40-75", "N"), ("LYMPH%", "淋巴细胞百分比", "28.4", "%", "20-50", "N"),
    ("MONO%", "单核细胞百分比", "7.1", "%", "3-10", "N"), ("EO%", "嗜酸性粒细胞百分比", "2.6", "%", "0.4-8", "N"),
    ("BASO%", "嗜碱性粒细胞百分比", "0.7", "%", "0-1", "N"), ("NEUT#", "中性粒细胞计数", "3.99", "10*9/L", "1.8-6.3", "N"),
    ("LYMPH#", "淋巴细胞计数", "1.85", "10*9/L", "1.1-3.2", "N"), ("MONO#", "单核细胞计数", "0.46", "10*9/L", "0.1-0.6", "N"),
    ("EO#", "嗜酸性粒细胞计数", "0.17", "10*9/L", "0.02-0.52", "N"), ("BASO#", "嗜碱性粒细胞计数", "0.05", "10*9/L", "0-0.06", "N"),
    ("RDW", "红细胞分布宽度", "12.9", "%", "11.5-14.5", "N"), ("MPV", "平均血小板体积", "10.4", "fL", "7.4-12.5", "N"),
]


def oru_parts() -> tuple[bytes, bytes]:
    """(head, tail): head + MSH-10 + tail is one framed ORU^R01 v2.5.1 with 20 OBX, valid against lis 2024.1."""
    head = SB + b"MSH|^~\\&|LIS|LAB|HIS|HOSP|20240105101500||ORU^R01^ORU_R01|"
    segments = [
        "|P|2.5.1|||||CHN|UNICODE UTF-8",
        "PID|1||0001234567^^^HOSP^MR~110101199003071234^^^CHN^NNCHN||张三||19900307|M",
        "PV1|1|O|NEI^101^3||||||||||||||||V20240105001",
        "ORC|RE|HIS20240105001|LIS20240105001||CM||||20240105101500",
        "OBR|1|HIS20240105001|LIS20240105001|CBC^血常规^L|||20240105080000|||||||||||||||20240105101500|||F",
    ]
    for i, (code, name, value, units, ref, flag) in enumerate(RESULTS, 1):
        segments.append(f"OBX|{i}|NM|{code}^{name}^L||{value}|{units}^^UCUM|{ref}|{flag}|||F|||20240105090000")
    return head, ("\r".join(segments) + "\r").encode() + END


def oml_parts() -> tuple[bytes, bytes]:
    """(head, tail) of one framed OML^O21 v2.5.1 (valid against lis 2024.1) whose placer number is its MSH-10:
    `{CONTROL}` in the tail is replaced by the control id, so every order is a new one for the mock LIS. MSH-7 is
    the time the level starts, as a hospital's sender stamps it (the mock checks it against its clock: a stamp
    hours off would earn every order a clock-skew finding, which is not the traffic it is meant to carry)."""
    head = SB + b"MSH|^~\\&|HIS|HOSP|LIS|LAB|" + time.strftime("%Y%m%d%H%M%S").encode() + b"||OML^O21^OML_O21|"
    segments = [
        "|P|2.5.1|||||CHN|UNICODE UTF-8",
        "PID|1||0001234567^^^HOSP^MR~110101199003071234^^^CHN^NNCHN||张三||19900307|M",
        "PV1|1|O|NEI^101^3||||||||||||||||V20240105001",
        "ORC|NW|{CONTROL}|||||||20240105080000|||D001^李医生",
        "TQ1|1||||||20240105083000|||R",
        "OBR|1|{CONTROL}||CBC^血常规^L||||||||||||D001^李医生",
        "SPM|1|S20240105001||BLD^全血|||||||||||||20240105075500",
    ]
    return head, ("\r".join(segments) + "\r").encode() + END


# -- the server side -----------------------------------------------------------------------------------------------
def serve(handler_name: str, port: int) -> None:
    """Run the transport until SIGTERM/SIGINT; print `PORT n` once listening."""
    from harness.contract.loader import ContractStore
    from mocks.transport.faults import FaultPlan
    from mocks.transport.journal import Journal
    from mocks.transport.mllp import AcceptAll, ContractHandler, MllpConfig, MllpHandler, MllpServer
    from mocks.transport.runtime import Runtime

    runtime = Runtime().start()
    if handler_name in ("lis", "connector"):
        _serve_lis(handler_name, port, runtime)
        return
    handler: MllpHandler
    if handler_name == "contract":
        contract = ContractStore().load("lis", "2024.1")
        handler = ContractHandler(contract, direction="to_hospital")
        config = MllpConfig.from_contract(contract)
    else:
        handler = AcceptAll("lis")
        config = MllpConfig()
    server = MllpServer(handler, Journal(), FaultPlan(), config)
    listener = server.start(runtime, "127.0.0.1", port)
    print(f"PORT {listener.port}", flush=True)
    _wait_for_signal()
    runtime.stop()


def _serve_lis(handler_name: str, port: int, runtime: Any) -> None:
    """The mock LIS (orders in), or the reference connector's result listener (results in, stored, ACKed)."""
    import tempfile

    from harness.contract.loader import ContractStore

    contract = ContractStore().load("lis", "2024.1")
    if handler_name == "lis":
        from mocks.lis import LisMock

        mock = LisMock(contract)
        endpoint = mock.start(runtime, "127.0.0.1", port)
        print(f"PORT {endpoint.port}", flush=True)
        _wait_for_signal()
        runtime.stop()
        return
    from connectors.lis import LisConnector
    from harness.ports.lis import Hl7Settings

    with tempfile.TemporaryDirectory() as folder:
        connector = LisConnector(Hl7Settings("127.0.0.1", 9, listen_port=port, contract_folder=str(contract.folder),
                                             store_path=f"{folder}/received.sqlite"))
        print(f"PORT {connector.listener()[1]}", flush=True)
        _wait_for_signal()
        connector.close()
    runtime.stop()


def _wait_for_signal() -> None:
    stop = False

    def on_signal(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    while not stop:
        time.sleep(0.2)


# -- the client side -----------------------------------------------------------------------------------------------
@dataclass
class Level:
    conns: int
    messages: int = 0
    seconds: float = 0.0
    rate: float = 0.0
    p50_ms: float = 0.0
    p90_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    errors: int = 0
    first_error: str = ""
    server_cpu_pct: float | None = None
    """The server process's CPU and its children's (workers); 100 % = one core."""
    server_us_per_msg: float | None = None
    """Server CPU per message answered (µs): what a message costs the server, whatever else ran on the machine."""
    client_cpu_pct: float = 0.0
    other_cpu_pct: float | None = None
    """CPU the rest of the machine used meanwhile (other tenants, the kernel's own work); 200 % = both cores."""


class Load:
    """Shared state of one level: whether to go on, whether to count, what was measured."""

    def __init__(self) -> None:
        self.running = True
        self.measuring = False
        self.latencies: list[int] = []
        self.errors = 0
        self.first_error = ""
        self.sequence = 0
        self.active = 0
        self.drained: asyncio.Future[None] | None = None

    def error(self, text: str) -> None:
        if self.measuring:
            self.errors += 1
            self.first_error = self.first_error or text


class Sender(asyncio.Protocol):
    """One connection: send, wait for the ACK frame, check it, send the next."""

    def __init__(self, load: Load, name: bytes, head: bytes, tail: bytes) -> None:
        self.load = load
        self.name = name
        self.head = head
        self.tail = tail
        self.templated = b"{CONTROL}" in tail
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.control = b""
        self.sent_at = 0
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not asyncio subclasses

    def next(self) -> None:
        load = self.load
        if not load.running or self.lost or self.transport is None:
            load.active -= 1
            if load.active == 0 and load.drained is not None and not load.drained.done():
                load.drained.set_result(None)
            return
        load.sequence += 1
        self.control = self.name + str(load.sequence).encode()
        self.sent_at = time.perf_counter_ns()
        tail = self.tail.replace(b"{CONTROL}", self.control) if self.templated else self.tail
        self.transport.write(self.head + self.control + tail)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(END)
        if end < 0:
            return
        now = time.perf_counter_ns()
        frame, self.buffer = self.buffer[:end], self.buffer[end + 2 :]
        load = self.load
        msa = frame.find(b"\rMSA|")
        fields = frame[msa + 1 :].split(b"\r", 1)[0].split(b"|") if msa >= 0 else []
        if len(fields) > 2 and fields[1] == b"AA" and fields[2] == self.control:
            if load.measuring:
                load.latencies.append(now - self.sent_at)
        else:
            load.error(f"bad ACK for {self.control!r}: {frame[:200]!r}")
        self.next()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost:
            self.lost = True
            if self.load.running:
                self.load.error(f"connection lost: {exc!r}")


def percentile(values: list[int], q: float) -> float:
    if not values:
        return float("nan")
    index = min(len(values) - 1, max(0, round(q * len(values) + 0.5) - 1))
    return values[index] / 1e6


async def run_level(port: int, conns: int, warmup: float, duration: float, server_pid: int | None,
                    orders: bool = False) -> Level:
    loop = asyncio.get_running_loop()
    head, tail = oml_parts() if orders else oru_parts()
    load = Load()
    senders: list[Sender] = []
    for n in range(conns):
        _, proto = await loop.create_connection(partial(Sender, load, b"B%02d-" % n, head, tail), "127.0.0.1", port)
        senders.append(proto)
    load.active = conns
    for sender in senders:
        sender.next()
    await asyncio.sleep(warmup)
    load.measuring = True
    t0, c0, s0, m0 = time.perf_counter(), time.process_time(), tree_cpu_s(server_pid), machine_busy_s()
    await asyncio.sleep(duration)
    t1, c1, s1, m1 = time.perf_counter(), time.process_time(), tree_cpu_s(server_pid), machine_busy_s()
    load.measuring = False
    load.running = False
    load.drained = loop.create_future()
    try:
        await asyncio.wait_for(load.drained, 5)
    except TimeoutError:
        pass
    for sender in senders:
        sender.lost = True
        if sender.transport is not None:
            sender.transport.close()
    wall = t1 - t0
    lat = sorted(load.latencies)
    level = Level(conns, len(lat), wall, len(lat) / wall, percentile(lat, 0.5), percentile(lat, 0.9),
                  percentile(lat, 0.99), lat[-1] / 1e6 if lat else float("nan"), load.errors, load.first_error)
    level.client_cpu_pct = 100 * (c1 - c0) / wall
    if s0 is not None and s1 is not None:
        level.server_cpu_pct = 100 * (s1 - s0) / wall
        level.server_us_per_msg = 1e6 * (s1 - s0) / len(lat) if lat else None
        level.other_cpu_pct = max(0.0, 100 * ((m1 - m0) - (s1 - s0) - (c1 - c0)) / wall)
    return level


def spawn(handler: str) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen([sys.executable, __file__, "--serve", "--handler", handler], stdout=subprocess.PIPE,
                            text=True, cwd=ROOT)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("PORT "):
        proc.kill()
        raise SystemExit(f"the server did not start: {line!r}")
    return proc, int(line.split()[1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--serve", action="store_true", help="run the server side (used by the spawning client)")
    ap.add_argument("--handler", choices=("accept", "contract", "lis", "connector"), default="accept")
    ap.add_argument("--port", type=int, default=0, help="load a server already listening on 127.0.0.1:PORT")
    ap.add_argument("--server-pid", type=int)
    ap.add_argument("--conns", default="1,8,64")
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    if a.serve:
        serve(a.handler, a.port)
        return 0
    if a.duration > 120 or a.warmup > 60:
        ap.error("keep a level under two minutes (--duration <= 120, --warmup <= 60)")
    proc = None
    port, server_pid = a.port, a.server_pid
    if not port:
        proc, port = spawn(a.handler)
        server_pid = proc.pid
    import uvloop

    levels = []
    try:
        for conns in [int(c) for c in a.conns.split(",")]:
            level = uvloop.run(run_level(port, conns, a.warmup, a.duration, server_pid, a.handler == "lis"))
            levels.append(level)
            cpu = f"{level.server_cpu_pct:.0f} %" if level.server_cpu_pct is not None else "-"
            if level.server_us_per_msg is not None:
                cpu += f" ({level.server_us_per_msg:.0f} µs/msg)"
            other = f"{level.other_cpu_pct:.0f} %" if level.other_cpu_pct is not None else "-"
            print(f"C={conns:<3d} {level.rate:9,.0f} msg/s  p50 {level.p50_ms:.3f} ms  p90 {level.p90_ms:.3f} ms  "
                  f"p99 {level.p99_ms:.3f} ms  max {level.max_ms:.1f} ms  errors {level.errors}  server CPU {cpu}  "
                  f"client CPU {level.client_cpu_pct:.0f} %  other CPU {other}", flush=True)
            if level.first_error:
                print(f"    first error: {level.first_error}", flush=True)
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps({
            "handler": a.handler, "python": platform.python_version(), "nproc": os.cpu_count(),
            "warmup_s": a.warmup, "duration_s": a.duration, "levels": [asdict(level) for level in levels],
        }, indent=2))
    return 1 if any(level.errors for level in levels) else 0


if __name__ == "__main__":
    sys.exit(main())
