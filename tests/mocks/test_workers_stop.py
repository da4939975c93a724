"""`hih mock serve --workers 2 --state FILE` stopped while a worker cannot stop in time (stopped by SIGSTOP, as a
machine under heavy load or a debugger holds it): the parent kills it past its grace, and an order that worker had
acknowledged but not yet written to the state file is still there at the next start, served by workers or by one
process. Real processes, real MLLP sockets. And a worker told to stop as soon as it is forked stops, not killed."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mocks import workers
from mocks.serve import ServeOptions
from mocks.state import SqliteStore
from tests.conftest import CONTRACTS, ROOT
from tests.mocks.serving import serving
from tests.mocks.worker_processes import worker_pids

pytestmark = pytest.mark.slow


def orders_in_file(state: Path) -> set[str]:
    with sqlite3.connect(state) as db:
        return {str(k) for (k,) in db.execute("SELECT key FROM docs WHERE tbl = 'orders'")}


def send(host: str, port: int, placer: str, control: str, order_control: str = "NW") -> str:
    from harness.contract.hl7.mllp_client import MllpSyncClient
    from tests.contracts.hl7 import messages as m

    with MllpSyncClient(host, port, timeout=10.0) as client:
        reply = client.send(m.lis_oml(order_control, control).replace("HIS20240105001", placer)).message
    assert reply is not None and reply.get("MSA-1") == "AA"
    return reply.get("ORC-1")


@pytest.mark.parametrize("again", [2, 1], ids=["restarted-with-workers", "restarted-as-one-process"])
def test_an_order_a_killed_worker_acknowledged_is_kept_by_the_next_start(tmp_path: Path, again: int,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers, "STOP_GRACE_S", 1.0)
    state = tmp_path / "lis.sqlite"
    lines: list[str] = []
    placed: list[str] = []
    with serving(ServeOptions(interfaces=["lis"], workers=2, contracts_dir=CONTRACTS, state=state),
                 announced=lines) as fields:
        host, port = fields["lis"][1].removeprefix("mllp://").rsplit(":", 1)
        pids = worker_pids()
        assert len(pids) == 2
        for n in range(20):  # the workers write the state file 0.2 s after an answer: stopped before, most times
            placed.append(f"K{n}")
            assert send(host, int(port), placed[-1], f"M{n}") == "OK"
            for pid in pids:
                os.kill(pid, signal.SIGSTOP)
            if placed[-1] not in orders_in_file(state):
                break
            for pid in pids:
                os.kill(pid, signal.SIGCONT)
        else:
            pytest.fail("every order was in the state file before the workers could be stopped")
    # the parent's SIGTERM waits behind the SIGSTOP: past the grace both workers are killed, their logs left
    assert [x for x in lines if "killed" in x] and sorted(p.name for p in tmp_path.glob("*.log"))
    assert placed[-1] not in orders_in_file(state)

    with serving(ServeOptions(interfaces=["lis"], workers=again, contracts_dir=CONTRACTS, state=state)) as fields:
        host, port = fields["lis"][1].removeprefix("mllp://").rsplit(":", 1)
        assert send(host, int(port), placed[-1], "M99") == "UA", "the order is known: placed again, it is refused"
    kept = SqliteStore(state)
    orders = dict(kept.items("orders"))
    kept.close()
    assert set(placed) <= set(orders)
    assert not list(tmp_path.glob("*.log")), "read back, the logs are gone"


EARLY_STOP = textwrap.dedent("""
    import signal, sys, threading, time, multiprocessing
    from pathlib import Path

    import mocks.workers_fork
    from mocks import workers

    forked = mocks.workers_fork.run_worker

    def late(*args):  # the worker's body starts after the stop has come
        time.sleep(0.5)
        forked(*args)

    mocks.workers_fork.run_worker = late
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())  # the serving process's handler, as while it starts
    config = {"index": 0, "workers": 1, "contracts_dir": None, "admin_token": "t", "interfaces": {}}
    worker = workers._Worker(0, config, multiprocessing.get_context("fork"), None, Path(sys.argv[1]))
    worker.terminate()  # what the serve's stop sends each worker, here before the worker has a handler of its own
    print("killed" if worker.finish(time.monotonic() + 20) else f"stopped {worker.proc.exitcode}")
""")


def test_a_worker_told_to_stop_before_its_handlers_are_set_stops(tmp_path: Path) -> None:
    """A serving process of one thread forks its workers, which inherit its handlers: a SIGTERM that reached a worker
    before its own handler was set ran the serving process's there and was lost (the worker served on until killed
    at the end of the stop's grace, 10 s). Held back through the fork, it stops the worker once it has its handler."""
    done = subprocess.run([sys.executable, "-c", EARLY_STOP, str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.stdout.strip() == "stopped 0", done.stdout + done.stderr
