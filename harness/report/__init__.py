"""Reports of a run, written next to summary.json and junit.xml: every writer is called by the runner.

`write_reports` masks the logs pytest wrote once more, writes report.html and cucumber.json's companions, and
writes manifest.json last, over every file of the directory.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.config import load_config
from harness.errors import HihError
from harness.report.html import render_html
from harness.report.manifest import hih_version, write_manifest
from harness.report.masking import Masker

REPORT_HTML = "report.html"
TEXT_LOGS = ("pytest.log", "junit.xml")
CUCUMBER_JSON = "cucumber.json"


def _contracts(summary: dict[str, Any]) -> dict[str, Any]:
    """The contracts the run used, by interface (missing ones left out: the report still renders)."""
    from harness.contract.loader import ContractStore

    root = summary.get("contracts_dir")
    store = ContractStore(Path(root) if root else None)
    found = {}
    for name, row in (summary.get("interfaces") or {}).items():
        try:
            found[name] = store.load(name, str(row.get("contract")) or None)
        except HihError:
            continue
    return found


def scrub_logs(report_dir: Path, masker: Masker) -> None:
    """pytest.log, junit.xml and cucumber.json masked again: they were written from masked reports, but a
    warning or an internal error can carry text the scenario masking never saw."""
    for name in TEXT_LOGS:
        path = report_dir / name
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            masked = masker.text(text)
            if masked != text:
                path.write_text(masked, encoding="utf-8")
    cucumber = report_dir / CUCUMBER_JSON
    if cucumber.is_file():
        try:
            document = json.loads(cucumber.read_text(encoding="utf-8"))
        except ValueError:
            return
        masked_document = masker.strings(document)
        if masked_document != document:
            cucumber.write_text(json.dumps(masked_document), encoding="utf-8")


def write_reports(report_dir: Path, summary: dict[str, Any], evidence: dict[str, list[dict[str, Any]]]) -> list[Path]:
    """Write the reports derived from a finished run; returns the files written (manifest.json last)."""
    masker = Masker.from_config(load_config().masking)
    scrub_logs(report_dir, masker)
    contracts = _contracts(summary)
    html = report_dir / REPORT_HTML
    html.write_text(render_html(summary, evidence, masker, contracts, hih_version()), encoding="utf-8")
    manifest = write_manifest(report_dir, summary, {name: c.folder for name, c in contracts.items()})
    return [html, manifest]
