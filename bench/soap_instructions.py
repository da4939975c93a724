#!/usr/bin/env python3
"""CPU instructions per SOAP call of a served SOAP mock, counted by valgrind (callgrind): a figure other load on a
shared machine cannot skew, unlike calls per second or CPU seconds per call.

One serving process is started exactly as `hih mock serve --interface NAME --workers 2` starts each of its workers
(`python -m mocks.workers CONFIG`: the shared SQLite store, the mock's HTTP server, its journal), under
`valgrind --tool=callgrind`. Over loopback it gets a warm-up, then its counters are zeroed
(`callgrind_control --zero`), it answers CALLS calls of the operation over C keep-alive connections (every reply
checked: HTTP 200 and ResultCode 0), and the counters are dumped: instructions / CALLS is the figure. It counts the
process's user-space instructions (HTTP, parse, validation, the partner's rules, the store's commit, the journal),
not the kernel's (socket, fsync). Without `--peer` the second worker is not started, so the other worker's rows a
worker applies on catching up are not in it either; with `--peer` worker 2 of 2 runs beside it (not under valgrind,
on its own port, the same shared state) and each connection's call to the measured worker is followed by one to the
peer: the measured worker then catches up on one call of the other worker's for each of its own, as each of two
serving processes does under an even load. Instructions are not time (a cache miss costs more than an addition):
compare commits with it, not machines. Needs valgrind; a run takes a few minutes (Python ≈ 50 times slower under it).

    .venv/bin/python bench/soap_instructions.py --interface blood-center            # SubmitBloodOrder
    .venv/bin/python bench/soap_instructions.py --interface mch-platform            # UploadRecord
    PYTHONPATH=/tmp/base .venv/bin/python bench/soap_instructions.py --root /tmp/base   # another commit's code
    .venv/bin/python bench/soap_instructions.py --interface mch-platform --peer     # with the other worker's rows
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.blood_center_load import OK, Conn, blood_request  # noqa: E402

OPERATIONS = {"blood-center": "SubmitBloodOrder", "mch-platform": "UploadRecord"}
TOTALS = re.compile(r"^(?:summary|totals):\s*(\d+)", re.M)


def _reserve() -> socket.socket:
    """A loopback port held for the worker as `hih mock serve --workers` holds it (bound, not listening)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def _worker(root: Path, interface: str, port: int, scratch: Path, timeout_s: float,
            index: int = 0) -> subprocess.Popen[bytes]:
    """`python -m mocks.workers` (worker `index + 1` of 2), the first under callgrind, once it says it is ready."""
    from harness.contract.loader import ContractStore
    from mocks.state import DEFAULT_MAX_ROWS
    from mocks.transport.journal import DEFAULT_MAX_BYTES

    config = {"workers": 2, "index": index, "host": "127.0.0.1", "admin_token": "bench", "contracts_dir": None,
              "journal_bytes": DEFAULT_MAX_BYTES, "max_rows": DEFAULT_MAX_ROWS, "allowed_hosts": [],
              "interfaces": {interface: {"port": port, "state": str(scratch / "state.sqlite"), "durable": False,
                                         "contract": ContractStore().load(interface).version}}}
    # the configuration on stdin, as `hih mock serve` gives it, and on the command line for a checkout from before
    # it moved there (`--root`); the token here is no secret
    grind = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={scratch}/cg.out"] if index == 0 else []
    command = [*grind, sys.executable, "-m", "mocks.workers", json.dumps(config)]
    errors = scratch / f"worker{index + 1}.err"
    with errors.open("wb") as sink:  # kept to tell why a worker ended before it was ready
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=sink, stdin=subprocess.PIPE,
                                   cwd=root, env={**os.environ, "PYTHONPATH": str(root)})
    assert process.stdin is not None
    with process.stdin:
        process.stdin.write(json.dumps(config).encode("utf-8"))
    ready = threading.Event()

    def read() -> None:
        for line in process.stdout or []:
            if line.startswith(b"ready"):
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + timeout_s
    while not ready.wait(1.0):
        if process.poll() is not None:  # ended before it was ready (e.g. a configuration key it now needs)
            tail = errors.read_text(errors="replace").strip().splitlines()[-1:]
            raise SystemExit(f"worker {index + 1} ended before it was ready (exit {process.returncode}): "
                             f"{tail[0] if tail else 'no message'}")
        if time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"worker {index + 1} was not ready within {timeout_s:g} s")
    return process


async def _calls(port: int, build: Callable[[], bytes], calls: int, conns: int, peer: int | None = None) -> int:
    """`calls` calls over `conns` connections (with a `peer` port, each followed by one to the peer over a connection
    of its own); the replies that were not HTTP 200 with ResultCode 0."""
    connections = [await Conn("127.0.0.1", port, build).open() for _ in range(conns)]
    peers = [await Conn("127.0.0.1", peer, build).open() for _ in range(conns)] if peer is not None else []
    left = iter(range(calls))
    bad = 0

    async def loop(conn: Conn, other: Conn | None) -> None:
        nonlocal bad
        for _ in left:
            for c in (conn, other) if other is not None else (conn,):
                status, body = await c.call()
                bad += status != 200 or OK not in body

    await asyncio.gather(*(loop(c, peers[i] if peers else None) for i, c in enumerate(connections)))
    for c in [*connections, *peers]:
        c.writer.close()
    return bad


def _control(flag: str, pid: int) -> None:
    subprocess.run(["callgrind_control", flag, str(pid)], check=True, capture_output=True, timeout=120)


def measure(root: Path, interface: str, calls: int, warmup: int, conns: int, timeout_s: float,
            keep: Path | None = None, peer: bool = False) -> dict[str, Any]:
    """Instructions per call of one worker under callgrind; `keep`: where to copy the measured dump (for
    `callgrind_annotate`: which C functions, libxml2's, SQLite's, the interpreter's, took them); `peer`: the second
    worker beside it, called as often (see the module)."""
    held = _reserve()
    port = held.getsockname()[1]
    held_peer = _reserve() if peer else None
    peer_port = held_peer.getsockname()[1] if held_peer is not None else None
    with tempfile.TemporaryDirectory(prefix="hih-soap-callgrind-") as folder:
        scratch = Path(folder)
        process = _worker(root, interface, port, scratch, timeout_s)
        other: subprocess.Popen[bytes] | None = None
        try:
            if peer_port is not None:
                other = _worker(root, interface, peer_port, scratch, 120.0, index=1)
            if interface == "blood-center":
                build = blood_request("SubmitBloodOrder", itertools.count(1))
            else:
                from bench.mch_load import requests

                build = requests(f"http://127.0.0.1:{port}")["UploadRecord"]
            bad = asyncio.run(_calls(port, build, warmup, conns, peer_port))
            _control("--zero", process.pid)
            started = time.perf_counter()
            bad += asyncio.run(_calls(port, build, calls, conns, peer_port))
            elapsed = time.perf_counter() - started
            _control("--dump", process.pid)
            dumps = sorted(scratch.glob("cg.out*"), key=lambda p: p.stat().st_mtime)
            found = TOTALS.search(dumps[-1].read_text(errors="replace")) if dumps else None
            if keep is not None and dumps:
                shutil.copy(dumps[-1], keep)
            if found is None:
                raise SystemExit("callgrind wrote no totals")
            if bad:
                raise SystemExit(f"{bad} replies were not HTTP 200 with ResultCode 0")
        finally:
            for started_process in (process, other):
                if started_process is None:
                    continue
                started_process.terminate()
                try:
                    started_process.wait(60)
                except subprocess.TimeoutExpired:
                    started_process.kill()
            held.close()
            if held_peer is not None:
                held_peer.close()
    total = int(found.group(1))
    return {"interface": interface, "operation": OPERATIONS[interface], "calls": calls, "conns": conns,
            "instructions": total, "per_call": total / calls, "seconds_under_valgrind": elapsed, "peer": peer}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--interface", choices=sorted(OPERATIONS), default="blood-center")
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--conns", type=int, default=8)
    ap.add_argument("--root", type=Path, default=ROOT, help="the checkout whose code is measured")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds the worker may take to start")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--keep", type=Path, help="copy the measured callgrind dump here")
    ap.add_argument("--peer", action="store_true", help="worker 2 of 2 beside it, called as often (its rows caught up)")
    a = ap.parse_args()
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        ap.error("valgrind is not installed (apt-get install valgrind)")
    result = measure(a.root.resolve(), a.interface, a.calls, a.warmup, a.conns, a.timeout, a.keep, a.peer)
    print(f"{result['interface']} {result['operation']}: {result['per_call']:,.0f} instructions per call "
          f"({result['calls']} calls over {result['conns']} connections"
          f"{', as many to the other worker' if a.peer else ''})")
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
