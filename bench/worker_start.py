"""What `hih mock serve --interface X --workers N` costs to start: the wall time to its `ready` line, the CPU of its
process tree at that moment (read from /proc), and the CPU of the whole tree from start to its stop right after
(every process waited for: this script is their subreaper, so a forkserver and the workers it reaped are counted
too). `--phases` splits one fresh worker's start, in a fresh interpreter, into the interpreter's own start, hih's
imports, the mock's imports, the contract's load, the mock's build and its start (the imports it makes as it starts
listening), as CPU milliseconds.

```sh
.venv/bin/python bench/worker_start.py --phases                                  # one fresh worker's start, split
.venv/bin/python bench/worker_start.py --rounds 5                                # this checkout, four interfaces
.venv/bin/python bench/worker_start.py --rounds 5 --against /tmp/base            # alternating with another checkout
```
Each side runs this venv's `hih` console script with `PYTHONPATH=DIR`, from DIR.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import resource
import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from interleaved import interleave, sides, spread
from procstat import tree_cpu_s

HERE = Path(__file__).resolve().parents[1]
INTERFACES = ("insurance", "lis", "blood-center", "mch-platform")
PR_SET_CHILD_SUBREAPER = 36
PHASES = r"""
import sys, time
marks = [("interpreter", time.process_time())]
from pathlib import Path
import tempfile, shutil
from harness.contract.loader import ContractStore
from mocks.placement import place_worker
from mocks.registry import mock_class
from mocks.shared_state import SharedSqliteStore
from mocks.transport.admin import admin_app
from mocks.transport.origin import HostAllowList
from mocks.transport.runtime import Runtime
import mocks.workers
marks.append(("hih imports", time.process_time()))
name = sys.argv[1]
cls = mock_class(name)
marks.append(("mock imports", time.process_time()))
contract = ContractStore(Path("contracts").resolve()).load(name, None)
marks.append(("contract", time.process_time()))
folder = Path(tempfile.mkdtemp(prefix="hih-phases-"))
kind = getattr(cls, "shared_store", SharedSqliteStore)
placed = {"worker": (0, 2)} if getattr(kind, "per_worker", False) else {}
mock = cls(contract, kind(folder / "s.sqlite", durable=False, **placed))
mock.share(0, 2, folder / "s.sqlite")
marks.append(("build", time.process_time()))
runtime = Runtime().start()
mock.start(runtime, "127.0.0.1", 0)
marks.append(("start", time.process_time()))
runtime.stop()
mock.store.close()
shutil.rmtree(folder, ignore_errors=True)
print(" ".join(f"{k}={(v - p) * 1000:.0f}" for (k, v), p in zip(marks, [0.0] + [m[1] for m in marks])))
"""


def children_cpu_s() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def reap_all(deadline: float) -> None:
    """Wait for every child and orphan handed to this subreaper until none is left (or `deadline`)."""
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.02)
    raise SystemExit("processes of the serve still running at the deadline")


def start_once(checkout: Path, interface: str, workers: int) -> dict[str, float]:
    """One serve of `checkout`, stopped as soon as it is ready: wall s to ready, tree CPU s at ready, total CPU s."""
    hih = str(Path(sys.executable).with_name("hih"))
    with tempfile.TemporaryDirectory(prefix="hih-worker-start-") as scratch:
        env = {**os.environ, "PYTHONPATH": str(checkout), "TMPDIR": scratch}
        env.pop("HIH_ADMIN_TOKEN", None)
        before = children_cpu_s()
        began = time.monotonic()
        proc = subprocess.Popen([hih, "mock", "serve", "--interface", interface, "--workers", str(workers)],
                                cwd=checkout, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None
        seen = b""
        try:
            while not any(line.startswith(b"ready") for line in seen.split(b"\n")):
                left = began + 120 - time.monotonic()
                if left <= 0 or proc.poll() is not None:
                    raise SystemExit(f"{checkout}: not ready: {seen.decode()!r} {proc.stderr.read().decode()[-500:] if proc.stderr else ''}")
                if select.select([proc.stdout], [], [], min(left, 1.0))[0]:
                    seen += os.read(proc.stdout.fileno(), 65536)
            wall = time.monotonic() - began
            at_ready = tree_cpu_s(proc.pid) or 0.0
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=60)
            reap_all(time.monotonic() + 60)
        return {"wall_s": wall, "cpu_ready_s": at_ready, "cpu_s": children_cpu_s() - before}


def phases(interfaces: list[str], rounds: int) -> None:
    for interface in interfaces:
        for _ in range(rounds):
            done = subprocess.run([sys.executable, "-c", PHASES, interface], cwd=HERE, capture_output=True, text=True,
                                  env={**os.environ, "PYTHONPATH": str(HERE)}, timeout=120, check=True)
            print(f"{interface}\t{done.stdout.strip()}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--interfaces", default=",".join(INTERFACES))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--against", type=Path, default=None, metavar="DIR", help="another checkout, run first")
    parser.add_argument("--phases", action="store_true", help="split one fresh worker's start instead")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    interfaces = [x for x in args.interfaces.split(",") if x]
    if args.phases:
        phases(interfaces, args.rounds)
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise SystemExit("cannot become a subreaper: the forkserver's CPU would go uncounted")
    print(f"load average {os.getloadavg()[0]:.2f} at the start", flush=True)
    results: dict[str, dict[str, list[dict[str, float]]]] = {}
    for interface in interfaces:
        got = interleave(args.rounds, sides(args.against, HERE),
                         lambda side, i=interface: start_once(side, i, args.workers),
                         lambda n, side, r, i=interface: (f"{i}\tround {n}\t{side}\twall {r['wall_s']:.2f} s\t"
                                                          f"CPU at ready {r['cpu_ready_s']:.2f} s\t"
                                                          f"CPU in all {r['cpu_s']:.2f} s"))
        results[interface] = {str(side): runs for side, runs in got.items()}
        for side, runs in got.items():
            print(f"{interface}\t{side}\twall {spread((r['wall_s'] for r in runs), 2)} s; CPU at ready "
                  f"{spread((r['cpu_ready_s'] for r in runs), 2)} s; CPU in all "
                  f"{spread((r['cpu_s'] for r in runs), 2)} s", flush=True)
    print(f"load average {os.getloadavg()[0]:.2f} at the end", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
