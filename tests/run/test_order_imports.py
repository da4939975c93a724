"""What `hih run` imports before it tells its warm pytest process the command line: not what only the reports, a
damaged run or the impact analysis need (importlib.metadata, lxml, harness.contract.diff_impact), nor rich (the
progress bar, the console, the summary table), which stood on the start's path; the version the reports print is still read, once, beside the scenarios."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from harness.report import manifest, writer
from tests.conftest import ROOT

LATER = ("importlib.metadata", "lxml.etree", "harness.contract.diff_impact", "harness.run.combine",
         "harness.run.fallback", "rich.console", "rich.progress", "rich.table")
PROBE = """
import json, os, sys
from harness.run import warm

def take(argv, log):
    print(json.dumps({"argv": argv, "loaded": [name for name in %(later)r if name in sys.modules]}), flush=True)
    warm.discard()
    os._exit(0)

warm.take = take
sys.argv = ["hih", "run", "--interface", "insurance", "--report-dir", %(report)r]
from harness.launch import entry
entry()
"""


def test_the_command_line_is_sent_before_the_reports_modules_are_imported(tmp_path: Path) -> None:
    script = PROBE % {"later": LATER, "report": str(tmp_path / "report")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "HIH_HISTORY": "off"}, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, done.stdout[-2000:] + done.stderr[-2000:]
    told = json.loads(lines[-1])
    assert "--hih-events" in told["argv"], "the pytest process was told a run's command line"
    assert told["loaded"] == []


def test_the_version_is_read_once_and_ahead_of_the_reports() -> None:
    manifest.hih_version.cache_clear()
    writer.preload(signoff_pdf=False)
    assert manifest.hih_version.cache_info().currsize == 1, "read beside the scenarios"
    assert manifest.hih_version() and manifest.hih_version.cache_info().hits >= 1, "the reports take it from there"
