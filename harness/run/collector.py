"""pytest plugin loaded by `hih run`: streams collection and per-scenario results as JSON lines for the runner.

Scenario reports arrive masked (the hih plugin masks them where they are made); node ids, messages and names are
masked once more here by shape, since a collection error or an internal error never went through that masking.
"""

from __future__ import annotations

import atexit
import gc
import json
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Generator
from pathlib import Path
from typing import IO, Any

import pytest

from harness.config import load_config
from harness.plugin import EVIDENCE_SECTION, REPORT_THREAD, masked_nodeid
from harness.plugin_masking import KEY_PROPERTY, nodeid_key
from harness.report.masking import Masker
from harness.run.report_thread import ReportThread


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("hih")
    group.addoption("--hih-events", default=None, help="write run events (JSON lines) to this file")
    group.addoption("--hih-done", default=None,
                    help="a JSON list of scenario keys already run: leave them out (a restarted run)")
    group.addoption("--hih-parent-pid", type=int, default=None,
                    help="the hih process that started this run: when it is gone, the run stops")
    group.addoption("--hih-quick-exit", action="store_true", default=False,
                    help="end the process as soon as the session has finished and its reports are written")
    group.addoption("--hih-reports-inline", action="store_true", default=False,
                    help="finish each scenario's report where it is made, not on the report thread beside the next "
                         "scenario (the same events, later)")


# Failures whose text is the whole story (pytest.fail, a deadline, a SpecFailure): the reports show it without the
# exception's name, so that its first line is the reason (harness.failure's text form).
_TEXT_FAILURE = re.compile(r"^(?:Failed|ScenarioTimeout|(?:[\w.]+\.)?SpecFailure): ")


def _short(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return _TEXT_FAILURE.sub("", str(crash.message).strip(), count=1)[:2000]
    if isinstance(report.longrepr, tuple):  # skips: (path, line, reason)
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    return str(report.longrepr or "").strip().splitlines()[-1:][0][:2000] if report.longrepr else ""


class Collector:
    """Writes one JSON object a line: collected (with the node ids), collect_error, result, finished."""

    def __init__(self, path: Path, last_word: bool = False, beside: ReportThread | None = None) -> None:
        self._out: IO[str] = path.open("a", encoding="utf-8")
        self._masker = Masker.from_config(load_config().masking)
        self._last_word = last_word
        """`finished` is said by QuickExit once everything is written, not at the session's finish."""
        self._beside = beside
        """The thread that finishes passed scenarios' reports: a result's event is then written there, after its
        report's evidence, and every event in the order the reports came."""

    def _emit(self, event: dict[str, Any], evidence: str | None = None) -> None:
        """One event a line. `evidence`: the scenario's evidence as the hih plugin serialised it (a JSON array,
        `ensure_ascii=False`), written as its `evidence` member as it is: decoding and encoding it again here, for
        every scenario, gave the same text and cost more than anything else the collector does."""
        at = round(time.time(), 4)  # when: the runner learns how long each interface kept its process busy
        if evidence is None:
            event["at"] = at
            line = json.dumps(event, ensure_ascii=False)
        else:
            line = (f'{json.dumps(event, ensure_ascii=False)[:-1]}, "evidence": {evidence}, '
                    f'"at": {json.dumps(at)}}}')
        beside = self._beside
        if beside is not None and beside.started and not beside.runs_here():
            beside.submit(lambda: self._put(line))  # after the events of the reports it holds
        else:
            self._put(line)

    def _put(self, line: str) -> None:
        self._out.write(line + "\n")
        self._out.flush()

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        # the warm process (harness.run.warm) started without cyclic collection; what start-up made lives as long
        # as the process, so it is frozen out of the collector's walks before the scenarios run
        gc.freeze()
        gc.enable()
        if not session.config.pluginmanager.hasplugin("dsession"):
            # keys, and node ids as the results will carry them (masked): the runner tells what did not run
            self._emit({"event": "collected", "count": len(session.items),
                        "keys": [nodeid_key(i.nodeid) for i in session.items],
                        "nodeids": [self._shown(i) for i in session.items]})

    @pytest.hookimpl(optionalhook=True)  # only exists when pytest-xdist is loaded
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        # xdist gives the controller node ids only: a scenario that never reports is shown by its file and key
        self._emit({"event": "collected", "count": len(ids), "keys": [nodeid_key(i) for i in ids],
                    "nodeids": [f"{i.partition('::')[0]}::{nodeid_key(i)}" for i in ids],
                    "worker": getattr(node, "gateway", None) and node.gateway.id})

    def _shown(self, item: pytest.Item) -> str:
        try:
            return masked_nodeid(item)
        except KeyError:  # not a scenario of the hih plugin's (no session): masked by shape
            return self._masker.nodeid(item.nodeid)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            text = str(report.longrepr or "").strip().splitlines()
            self._emit({"event": "collect_error", "nodeid": self._masker.nodeid(report.nodeid),
                        "message": self._masker.text((text[-1] if text else "")[:2000])})

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        final = report.when == "call" or (report.when == "setup" and not report.passed) or (
            report.when == "teardown" and report.failed)
        if not final:
            return
        if self._beside is not None:
            self._beside.submit(lambda: self._result(report))
        else:
            self._result(report)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """Every report finished and its event written as the session finishes."""
        if self._beside is not None:
            self._beside.settle()
        if not self._last_word:
            self.finish(int(exitstatus))

    def _result(self, report: pytest.TestReport) -> None:
        props = {k: self._masker.text(v) if isinstance(v, str) and k not in ("hih_steps", KEY_PROPERTY) else v
                 for k, v in report.user_properties if isinstance(k, str) and k.startswith("hih_")}
        evidence = next((content for title, content in report.sections if title == EVIDENCE_SECTION), None)
        self._emit({
            "event": "result", "nodeid": self._masker.nodeid(report.nodeid), "when": report.when,
            "status": report.outcome, "duration_s": round(report.duration, 4),
            "message": "" if report.passed else self._masker.text(_short(report)),
            "props": props,
        }, evidence or "[]")

    def finish(self, exitstatus: int) -> None:
        """The last event: nothing of this process is written after it."""
        if self._beside is not None:
            beside, self._beside = self._beside, None
            beside.close()
        self._emit({"event": "finished", "exitstatus": exitstatus})
        self._out.close()


class QuickExit:
    """Ends the process with the session's exit status once everything of the session is written (events,
    junit.xml, cucumber.json, pytest's summary in the log): what follows would only stop the mock servers, hunt
    for unraisable exceptions with repeated full garbage collections and tear the interpreter down, ≈ 0.4 s after
    the last scenario that the run waits for and nobody reads.

    With the run's events, the `finished` event is its last word, said just before it exits: `hih run` takes it as
    the process's end and goes on to its reports while the system takes the process down (tens of milliseconds for
    a few hundred megabytes)."""

    def __init__(self, collector: Collector | None = None) -> None:
        self.collector = collector

    @pytest.hookimpl(wrapper=True, tryfirst=True)  # outermost: every other sessionfinish has run when it resumes
    def pytest_sessionfinish(self, session: pytest.Session) -> Generator[None, None, None]:
        yield
        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            if stream is not None:
                stream.flush()
        if self.collector is not None:
            self.collector.finish(int(session.exitstatus))
        os._exit(int(session.exitstatus))


def pytest_configure(config: pytest.Config) -> None:
    controller = not hasattr(config, "workerinput")  # only the controller writes; xdist workers forward reports
    quick = bool(config.getoption("--hih-quick-exit")) and controller
    path = config.getoption("--hih-events")
    collector = None
    if path and controller:
        # a process without xdist workers finishes its passed scenarios' reports on a thread (under xdist a worker
        # sends each report to the controller as soon as it is made)
        inline = config.getoption("numprocesses", None) or config.getoption("--hih-reports-inline")
        beside = None if inline else ReportThread()
        collector = Collector(Path(path), last_word=quick, beside=beside)
        if beside is not None:
            config.stash[REPORT_THREAD] = beside
        config.pluginmanager.register(collector, "hih-collector")
    if quick:
        config.pluginmanager.register(QuickExit(collector), "hih-quick-exit")
    parent = config.getoption("--hih-parent-pid")
    if parent and not hasattr(config, "workerinput"):
        threading.Thread(target=_stop_when_orphaned, args=(parent,), name="hih-parent", daemon=True).start()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    path = config.getoption("--hih-done")
    if not path:
        return
    done = set(json.loads(Path(path).read_text(encoding="utf-8")))
    dropped = [item for item in items if nodeid_key(item.nodeid) in done]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if nodeid_key(item.nodeid) not in done]


def _stop_when_orphaned(parent: int) -> None:
    """hih runs pytest in its own process group; if hih itself is killed, stop the group rather than run on alone."""
    while os.getppid() == parent:
        time.sleep(1.0)
    try:
        os.killpg(os.getpgid(0), signal.SIGTERM)
    finally:
        os._exit(3)
