"""A cancelled run (SIGTERM from CI, Ctrl-C) or one past `--timeout`: pytest is stopped, a partial report is written
with the decision `incomplete` (exit 2), never `pass`, and no process is left behind."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from harness.report.manifest import verify
from harness.run.options import RunOptions
from harness.run.runner import run
from tests.conftest import DATA, ROOT

# Shares the machine (the parallel pass of ./scripts/test): nothing here is measured. The signal waits for the
# run's pytest to have collected, the run's own timeout only has to fire, and "< 60 s" only tells a stop from the
# hanging connector's 60 s scenario deadline.
pytestmark = pytest.mark.slow
FEATURES = DATA / "features"
HANGING = "tests.data.connectors.hanging_connector:make"


def processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if text in command:
            found.append(int(entry.name))
    return found


def signal_once_running(temporary: Path, signum: int) -> threading.Thread:
    """Send `signum` to this process once a scenario of the run is under way: its connector's work folder made (in
    its pytest process's folder under `temporary`, the run's TMPDIR)."""
    def wait_and_signal() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if list(temporary.glob("hih-run-*/hih-insurance-*")):
                os.kill(os.getpid(), signum)
                return
            time.sleep(0.02)

    thread = threading.Thread(target=wait_and_signal, daemon=True)
    thread.start()
    return thread


def partial(tmp_path: Path, **options: Any) -> tuple[int, dict[str, Any], str]:
    console = Console(file=io.StringIO(), width=120, color_system=None)
    code = run(RunOptions(features_dir=FEATURES, report_dir=tmp_path / "reports", workers=1,
                          connectors={"insurance": HANGING}, scenario_timeout_s=60, signoff_pdf=False, **options),
               console)
    document = json.loads((tmp_path / "reports" / "summary.json").read_text(encoding="utf-8"))
    return code, document, console.file.getvalue()  # type: ignore[attr-defined]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_cancelled_run_writes_a_partial_report_that_is_not_a_pass(tmp_path: Path, signum: int,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setenv("TMPDIR", str(temporary))  # the run's pytest processes' temporary folder
    monkeypatch.setattr(tempfile, "tempdir", None)
    waiter = signal_once_running(temporary, signum)
    started = time.monotonic()
    code, document, printed = partial(tmp_path)
    waiter.join(5)

    assert code == 2
    assert document["decision"] == "incomplete"
    assert document["incomplete"]["reason"] == f"cancelled by {signal.Signals(signum).name}"
    assert document["incomplete"]["not_run"] == len(document["not_run"]) >= 1
    assert "GATE NOT DECIDED" in printed and "GATE OPEN" not in printed
    assert time.monotonic() - started < 60, "stopped, not waited out"
    assert verify(tmp_path / "reports", lambda line: None) == 0, "the partial report is complete in itself"
    assert processes_mentioning(str(tmp_path)) == [], "pytest and its workers are gone"
    assert sorted(p.name for p in temporary.iterdir() if p.name.startswith("hih-")) == [], "work folders left behind"


def test_the_run_timeout_stops_the_run_with_a_partial_report(tmp_path: Path) -> None:
    started = time.monotonic()
    code, document, _ = partial(tmp_path, timeout_s=5)

    assert code == 2 and document["decision"] == "incomplete"
    assert document["incomplete"]["reason"] == "the run's --timeout of 5 s was reached"
    assert time.monotonic() - started < 60
    assert processes_mentioning(str(tmp_path)) == []


def test_hih_run_cancelled_by_sigterm_exits_2(tmp_path: Path) -> None:
    """The command as CI runs it (stdout not a terminal): SIGTERM to hih, exit 2, partial report, nothing left."""
    report_dir = tmp_path / "reports"
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
           "TMPDIR": str(temporary)}
    child = subprocess.Popen(["hih", "run", "--interface", "insurance", "--connector", f"insurance={HANGING}",
                              "--report-dir", str(report_dir), "--no-signoff-pdf"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        first = child.stdout.readline()  # printed once pytest has collected
        assert re.match(r"hih run: \d+ scenarios in 1 interface\(s\): insurance \d+$", first.strip()), first
        # a scenario under way: its connector's work folder made (in its pytest process's folder), the folder the
        # cancel must remove
        deadline = time.monotonic() + 60
        while not list(temporary.glob("hih-run-*/hih-insurance-*")) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert list(temporary.glob("hih-run-*/hih-insurance-*")), "a scenario's work folder within 60 s"
        child.send_signal(signal.SIGTERM)
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:  # a failed assertion above: end it and reap it (no zombie, no CPU in the next test)
            child.kill()
            child.communicate(timeout=30)
    assert child.returncode == 2, out + err
    assert "GATE NOT DECIDED: the run is incomplete (cancelled by SIGTERM)" in out
    summary = json.loads((report_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["decision"] == "incomplete"
    assert processes_mentioning(str(report_dir)) == []
    assert sorted(p.name for p in temporary.iterdir() if p.name.startswith("hih-")) == [], "work folders left behind"
