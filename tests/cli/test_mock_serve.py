"""`hih mock serve` as a real process: it prints its endpoints, answers signed calls, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import json
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from harness.contract.loader import ContractStore
from harness.contract.signing import tif_headers
from mocks.insurance import TEST_PAASID, TEST_SECRET
from mocks.serve import ServeOptions, serve
from tests.conftest import CONTRACTS, envelope


def test_mock_serve_prints_its_url_answers_and_stops_on_sigint(tmp_path: Path) -> None:
    hih = Path(sys.executable).with_name("hih")
    env = {k: v for k, v in os.environ.items() if k not in ("HIH_ADMIN_TOKEN", "HIH_INSURANCE_PAASID", "HIH_INSURANCE_SECRET")}
    process = subprocess.Popen([str(hih), "mock", "serve", "--port", "insurance=0"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in process.stdout or []:
            lines.put(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        printed: list[str] = []
        # a bound on the start, not a measure of it: a fresh clone's first start of all five mocks beside a loaded
        # suite compiles and checks every contract
        deadline = time.monotonic() + 60
        while not any(line.startswith("ready") for line in printed):
            try:
                printed.append(lines.get(timeout=max(0.1, deadline - time.monotonic())).rstrip("\n"))
            except queue.Empty:
                process.kill()
                process.wait(timeout=10)
                stderr = process.stderr.read() if process.stderr else ""
                pytest.fail(f"hih mock serve printed no ready line in 60 s; printed {printed}, stderr {stderr!r}")
        name, url, description = next(line for line in printed if line.startswith("insurance\t")).split("\t")
        assert url.startswith("http://127.0.0.1:") and description == "(contract 2025.1)"
        assert any(line.startswith("admin\thttp://127.0.0.1:") and line.endswith("/__hih/") for line in printed)

        contract = ContractStore(CONTRACTS).load("insurance")
        body = envelope("9001", {"signIn": {"opter_no": "100234", "ip": "10.0.0.10"}})
        reply = httpx.post(f"{url}/fsi/api/signInSignOutService/signIn", content=json.dumps(body).encode(),
                           headers={**tif_headers(contract.signing, TEST_PAASID, TEST_SECRET),
                                    "Content-Type": "application/json"}, timeout=5).json()
        assert reply["infcode"] == 0 and reply["output"]["signinoutb"]["sign_no"]

        started = time.monotonic()
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=5)
        assert time.monotonic() - started < 5
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        reader.join(timeout=5)
        # read and closed on every way out: pipes left open would be reported by a later test on this worker
        stderr = process.stderr.read() if process.stderr and not process.stderr.closed else ""
        for pipe in (process.stderr, process.stdout):
            if pipe:
                pipe.close()
    rest = []
    while not lines.empty():
        rest.append(lines.get().rstrip("\n"))
    assert code == 0, stderr
    assert rest[-1:] == ["stopped"]
    assert "Traceback" not in stderr


def serve_once(options: ServeOptions) -> list[str]:
    """Run `serve` until it has announced everything, then stop it (off the main thread: no signal handlers)."""
    stop = threading.Event()
    stop.set()
    lines: list[str] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            serve(options, lines.append, stop)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            errors.append(exc)

    worker = threading.Thread(target=target)
    worker.start()
    worker.join(timeout=20)
    assert not worker.is_alive()
    if errors:
        raise errors[0]
    return lines


def test_serve_announces_every_endpoint_as_a_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HIH_ADMIN_TOKEN", raising=False)
    lines = serve_once(ServeOptions(host="::1"))

    announced = [line.split("\t")[:2] for line in lines if "\t" in line]
    urls = {label: where.split(" ", 1)[0] for label, where in announced if not label.endswith(" accepts")}
    assert urls["insurance"].startswith("http://[::1]:")
    assert urls["admin"].startswith("http://[::1]:") and urls["admin"].endswith("/__hih/")
    for url in urls.values():
        assert httpx.URL(url).host == "::1"


def test_serve_keeps_state_in_the_given_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HIH_ADMIN_TOKEN", raising=False)
    state = tmp_path / "training" / "insurance.sqlite"

    lines = serve_once(ServeOptions(interfaces=["insurance"], state=state, contracts={"insurance": "2023.1"}))

    assert any(line.startswith("insurance\t") and line.endswith(f"(contract 2023.1, state in {state})") for line in lines)
    assert lines[-1] == "ready: press Ctrl-C to stop"
    with sqlite3.connect(state) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("SELECT count(*) FROM docs WHERE tbl = 'balances'").fetchone()[0] == 200
    db.close()


INTERRUPTED_IN_A_DEL = """
import os, signal, sys
from mocks.transport import runtime

start = runtime.Runtime.start


class Dropped:
    def __del__(self) -> None:
        # the signal's handler runs here, where Python prints and drops an exception ("Exception ignored in"), as
        # it does in the import system's module-lock callbacks a real start passes through
        os.kill(os.getpid(), signal.SIGINT)


def interrupted(self):
    Dropped()
    return start(self)


runtime.Runtime.start = interrupted
sys.argv = ["hih", *sys.argv[1:]]
from harness.launch import entry
entry()
"""


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_ctrl_c_while_it_starts_stops_it_even_where_python_would_drop_the_interruption(
        tmp_path: Path, workers: str) -> None:
    """A Ctrl-C that arrives while the mocks start, at a point where a KeyboardInterrupt would be dropped: the serve
    still stops (it finishes its start, then stops as after any Ctrl-C) instead of serving until killed."""
    env = {k: v for k, v in os.environ.items() if k != "HIH_ADMIN_TOKEN"}
    done = subprocess.run([sys.executable, "-c", INTERRUPTED_IN_A_DEL, "mock", "serve", "--interface", "lis",
                           "--workers", workers], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "stopped", done.stdout
    assert "KeyboardInterrupt" not in done.stderr


INTERRUPTED_WHILE_IMPORTING = """
import importlib.abc, os, signal, sys


class Dropped:
    def __del__(self) -> None:  # as the import system's module-lock callback: an exception here is dropped
        os.kill(os.getpid(), signal.SIGINT)


class Interrupting(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "harness.cli":
            sys.meta_path.remove(self)
            Dropped()
        return None


sys.meta_path.insert(0, Interrupting())
sys.argv = ["hih", *sys.argv[1:]]
from harness.launch import entry
entry()
"""


def test_a_ctrl_c_dropped_before_the_command_line_is_imported_still_stops_the_serve(tmp_path: Path) -> None:
    """A Ctrl-C whose KeyboardInterrupt Python dropped while `hih mock serve` imported its command line, before the
    serve's own handlers: noted from the first step (harness.launch), it stops the serve once its start is done."""
    env = {k: v for k, v in os.environ.items() if k != "HIH_ADMIN_TOKEN"}
    done = subprocess.run([sys.executable, "-c", INTERRUPTED_WHILE_IMPORTING, "mock", "serve", "--interface", "lis",
                           "--workers", "1"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert "Exception ignored" in done.stderr and "KeyboardInterrupt" in done.stderr, "the interruption was dropped"
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "stopped", done.stdout
