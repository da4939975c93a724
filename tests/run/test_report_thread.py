"""Passed scenarios' reports finished on a thread beside the next scenario: the jobs run in order and are bounded,
a failed job is not lost; over a real run of insurance scenarios (some failing), every event, evidence.json,
junit.xml and cucumber.json are what finishing each report in place gives, and nothing unmasked is written."""

from __future__ import annotations

import json
import os
import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from harness.run.child import INI, PLUGINS
from harness.run.options import PROJECT_ROOT
from harness.run.report_thread import ReportThread, settle_all
from tests.forkserver import Forked, ForkServer
from tests.report.identifiers import unmasked


def test_jobs_run_one_at_a_time_in_the_order_given() -> None:
    beside = ReportThread()
    seen: list[int] = []
    threads: set[str] = set()

    def job(n: int) -> None:
        time.sleep(0.001 * (n % 3))
        seen.append(n)
        threads.add(threading.current_thread().name)

    for n in range(40):
        beside.submit(lambda n=n: job(n))  # type: ignore[misc]
    assert beside.settle(10.0)
    assert seen == list(range(40))
    assert threads == {"hih-reports"}
    beside.close()
    assert not beside.started


def test_the_queue_is_bounded() -> None:
    beside = ReportThread(bound=2)
    gate = threading.Event()
    beside.submit(lambda: None if gate.wait() else None)  # taken by the thread
    beside.submit(lambda: None)
    beside.submit(lambda: None)  # the queue is now full
    blocked = threading.Thread(target=beside.submit, args=(lambda: None,), daemon=True)
    blocked.start()
    blocked.join(0.3)
    assert blocked.is_alive(), "a fourth job waits for room"
    assert not beside.settle(0.05)
    gate.set()
    blocked.join(5.0)
    assert not blocked.is_alive()
    assert beside.settle(5.0)
    beside.close()


def test_a_failed_job_is_raised_where_the_process_waits_and_later_jobs_do_not_run() -> None:
    beside = ReportThread()
    ran: list[str] = []

    def fails() -> None:
        raise ValueError("cannot mask")

    beside.submit(fails)
    beside.submit(lambda: ran.append("after"))
    with pytest.raises(RuntimeError, match="could not be finished: ValueError") as raised:
        beside.settle(5.0)
    assert isinstance(raised.value.__cause__, ValueError)
    assert ran == []  # nothing written after a report that could not be finished
    beside.close()


def test_settle_all_waits_a_bounded_time_and_says_nothing() -> None:
    beside = ReportThread()
    gate = threading.Event()
    beside.submit(lambda: None if gate.wait() else None)
    started = time.monotonic()
    settle_all(0.2)
    assert 0.15 <= time.monotonic() - started < 5.0
    gate.set()
    beside.close()


# -- a real run, with the thread and inline ------------------------------------------------------------------------
DEFECT = "tests.data.connectors.double_charge_connector:make"
"""Fails the lost-settlement-reply scenarios; the other @fault scenarios pass."""
_VARYING = [(re.compile(r'"(started|duration_ms|finished|at|duration|duration_s)": [0-9.e+-]+'), '"T": 0'),
            (re.compile(r"127\.0\.0\.1:\d+"), "HOST"), (re.compile(r"\d{8,}"), "N"),
            (re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d"), "DT"), (re.compile(r'time="[0-9.]+"'), ""),
            (re.compile(r'(timestamp|hostname)="[^"]*"'), ""), (re.compile(r"\d+\.\d+s"), "Ns")]


def _normal(text: str) -> str:
    """Times, ports and time-derived identifiers (msgid, settlement numbers) left out."""
    for pattern, replacement in _VARYING:
        text = pattern.sub(replacement, text)
    return text


def _runs(fork_server: ForkServer, *folders: tuple[Path, tuple[str, ...]]) -> list[dict[str, Any]]:
    """Runs' pytest processes over the insurance @fault scenarios, forked as the suite's runs' are
    (tests/forkserver.py): the report thread is what it compares, not how the process starts. They run side by side
    (each with its own mocks on ports of its own, and its own report folder): most of a run is its scenarios waiting
    out the platform's faults (no reply within the timeout), which they then wait at once."""
    started: list[tuple[Path, Forked]] = []
    try:
        for folder, extra in folders:
            started.append(_fork(fork_server, folder, *extra))
        codes = [process.wait(300) for _, process in started]
    finally:  # one past its time (or a fork that failed): none left running
        for _, process in started:
            if process.poll() is None:
                process.kill()
                process.wait(10)
    return [{"code": code, "events": [json.loads(line) for line in
                                      (folder / "events.jsonl").read_text(encoding="utf-8").splitlines()]}
            for (folder, _), code in zip(started, codes, strict=True)]


def _fork(fork_server: ForkServer, folder: Path, *extra: str) -> tuple[Path, Forked]:
    folder.mkdir()
    argv = ["-c", str(INI), "--rootdir", str(PROJECT_ROOT), "--disable-plugin-autoload",
            *[a for plugin in PLUGINS for a in ("-p", plugin)], "-p", "harness.run.collector",
            "--hih-events", str(folder / "events.jsonl"), "--junitxml", str(folder / "junit.xml"),
            "-o", "junit_suite_name=hih", "-q", "-rfE", "--cucumberjson", str(folder / "cucumber.json"),
            "--hih-quick-exit", "-m", "fault and not no_answer", "--hih-contract", "insurance=2025.1", "--hih-connector",
            f"insurance={DEFECT}", *extra, str(PROJECT_ROOT / "features" / "insurance")]
    return folder, fork_server.fork(argv, folder / "pytest.log", dict(os.environ), PROJECT_ROOT)


def test_a_run_with_the_thread_writes_what_a_run_inline_writes(tmp_path: Path, fork_server: ForkServer) -> None:
    inline, beside = _runs(fork_server, (tmp_path / "inline", ("--hih-reports-inline",)), (tmp_path / "beside", ()))
    assert inline["code"] == beside["code"] == 1, "the planted defect fails some scenarios"
    results = [e for e in beside["events"] if e["event"] == "result"]
    assert results, "the run reported its scenarios"
    failed = [e for e in results if e["status"] == "failed"]
    passed = [e for e in results if e["status"] == "passed"]
    assert failed and passed
    assert all(e["message"] for e in failed), "a failure is still reported with its reason"
    assert any(e["evidence"] for e in passed) and any(e["props"].get("hih_steps") for e in passed)
    assert [e["event"] for e in beside["events"]][-1] == "finished"
    assert [_normal(json.dumps(e, ensure_ascii=False)) for e in beside["events"]] == \
        [_normal(json.dumps(e, ensure_ascii=False)) for e in inline["events"]]
    for name in ("junit.xml", "cucumber.json"):
        assert _normal((tmp_path / "beside" / name).read_text(encoding="utf-8")) == \
            _normal((tmp_path / "inline" / name).read_text(encoding="utf-8")), name
    assert unmasked(tmp_path / "beside") == [] and unmasked(tmp_path / "inline") == []
