"""How long the first message to a freshly started mock LIS takes to be acknowledged, against the next ones.

```sh
.venv/bin/python bench/first_message.py              # 5 starts of `hih mock serve --interface lis`
```
For each start: spawn the mock, wait for its `ready` line, open one MLLP connection, send an OML^O21 and time its
ORL^O22, then four more. A mock that compiles its message profiles on the first message answers it tens of
milliseconds late, which a connector with a short timeout takes for a lost reply and sends again.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from mllp_load import oml_parts  # bench/ is the script directory


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def one_start() -> list[float]:
    port = free_port()
    hih = Path(sys.executable).with_name("hih")
    proc = subprocess.Popen([str(hih), "mock", "serve", "--interface", "lis", "--port", f"lis={port}"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("ready"):
                break
        head, tail = oml_parts()
        times = []
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            for n in range(5):
                frame = head + f"F{n:04d}{time.time_ns() % 10**9}".encode() + tail
                started = time.perf_counter()
                sock.sendall(frame)
                got = b""
                while not got.endswith(b"\x1c\r"):
                    chunk = sock.recv(65536)
                    if not chunk:
                        raise RuntimeError("the mock closed the connection")
                    got += chunk
                times.append((time.perf_counter() - started) * 1000)
                if b"MSA|AA" not in got:
                    raise RuntimeError(f"not acknowledged AA: {got[:200]!r}")
        return times
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--starts", type=int, default=5)
    args = ap.parse_args()
    firsts, nexts = [], []
    for _ in range(args.starts):
        times = one_start()
        firsts.append(times[0])
        nexts.extend(times[1:])
        print(f"first {times[0]:7.2f} ms, then {', '.join(f'{t:.2f}' for t in times[1:])} ms", flush=True)
    print(f"median first message {statistics.median(firsts):.2f} ms, median later ones {statistics.median(nexts):.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
