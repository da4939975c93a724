"""pytest plugin loaded by `hih run`: streams collection and per-scenario results as JSON lines for the runner.

Scenario reports arrive masked (the hih plugin masks them where they are made); node ids, messages and names are
masked once more here by shape, since a collection error or an internal error never went through that masking.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

import pytest

from harness.config import load_config
from harness.plugin import EVIDENCE_SECTION
from harness.report.masking import Masker


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("hih").addoption("--hih-events", default=None, help="write run events (JSON lines) to this file")


def _short(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message).strip()[:2000]
    if isinstance(report.longrepr, tuple):  # skips: (path, line, reason)
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    return str(report.longrepr or "").strip().splitlines()[-1:][0][:2000] if report.longrepr else ""


class Collector:
    """Writes one JSON object a line: collected, collect_error, result, finished."""

    def __init__(self, path: Path) -> None:
        self._out: IO[str] = path.open("a", encoding="utf-8")
        self._masker = Masker.from_config(load_config().masking)

    def _emit(self, event: dict[str, Any]) -> None:
        self._out.write(json.dumps(event, ensure_ascii=False) + "\n")
        self._out.flush()

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if not session.config.pluginmanager.hasplugin("dsession"):
            self._emit({"event": "collected", "count": len(session.items)})

    @pytest.hookimpl(optionalhook=True)  # only exists when pytest-xdist is loaded
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        self._emit({"event": "collected", "count": len(ids), "worker": getattr(node, "gateway", None) and node.gateway.id})

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
        props = {k: self._masker.text(v) if isinstance(v, str) and k != "hih_steps" else v
                 for k, v in report.user_properties if isinstance(k, str) and k.startswith("hih_")}
        evidence = next((content for title, content in report.sections if title == EVIDENCE_SECTION), None)
        self._emit({
            "event": "result", "nodeid": self._masker.nodeid(report.nodeid), "when": report.when,
            "status": report.outcome, "duration_s": round(report.duration, 4),
            "message": "" if report.passed else self._masker.text(_short(report)),
            "props": props, "evidence": json.loads(evidence) if evidence else [],
        })

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self._emit({"event": "finished", "exitstatus": int(exitstatus)})
        self._out.close()


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption("--hih-events")
    if path and not hasattr(config, "workerinput"):  # only the controller writes; xdist workers forward reports
        config.pluginmanager.register(Collector(Path(path)), "hih-collector")
