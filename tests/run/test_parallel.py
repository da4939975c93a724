"""`hih run --workers 2` gives the same results as a serial run, compared scenario by scenario (durations left out):
several interfaces shared between two pytest processes (lanes), and one interface's scenarios shared between two
pytest-xdist workers. With the reference connectors (gate open) and with a defective one whose run mixes passed,
failed and skipped scenarios.

Each case runs a tag selection (@smoke, @policy, and for the xdist case @validation): a few scenarios per
interface, enough for every status the case needs and for work on both sides, at a fraction of the full specs' time.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from rich.console import Console

from harness.run.options import RunOptions
from harness.run.runner import run
from tests.conftest import ROOT

pytestmark = pytest.mark.slow
MISSING_FIELD = "tests.data.connectors.missing_field_connector:make"


def gate(report_dir: Path, workers: int, connectors: dict[str, str], interfaces: list[str],
         tags: str) -> tuple[int, dict[str, Any], list[str]]:
    console = Console(file=io.StringIO(), width=200, color_system=None)
    options = RunOptions(features_dir=ROOT / "features", report_dir=report_dir, workers=workers, connectors=connectors,
                         interfaces=interfaces, tags=tags, signoff_pdf=False)
    code = run(options, console)
    summary = json.loads((report_dir / "summary.json").read_text(encoding="utf-8"))
    cases = etree.parse(str(report_dir / "junit.xml")).getroot().findall(".//testcase")
    outcome = ["failed" if c.find("failure") is not None or c.find("error") is not None
               else "skipped" if c.find("skipped") is not None else "passed" for c in cases]
    return code, summary, outcome


def by_scenario(summary: dict[str, Any]) -> dict[tuple[str, str, str, str], str]:
    """Status per scenario; the node id tells the rows of a Scenario Outline apart."""
    keys = [(s["interface"], s["feature"], s["name"], s["nodeid"]) for s in summary["scenarios"]]
    assert len(set(keys)) == len(keys), "two scenarios with the same interface, feature, name and node id"
    return dict(zip(keys, (s["status"] for s in summary["scenarios"]), strict=True))


def counts(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: {k: row[k] for k in ("contract", "connector", "passed", "failed", "skipped")}
            for name, row in summary["interfaces"].items()}


# Two interfaces of other transports with the reference connectors, two lanes; the defective run breaks one of
# two interfaces (mixed passed, failed and skipped across the lanes); one interface alone is shared by xdist. The
# full five-interface run is compared in tests/run/test_merge.py, which keeps the suite's time down here.
TAGS = "@smoke or @policy"


@pytest.mark.parametrize(("connectors", "interfaces", "tags", "statuses"), [
    # the product's own start (not forked, tests/forkserver.py): the second lane's process starts with its command line
    pytest.param({}, ["blood-center", "pacs"], TAGS, {"passed"}, marks=pytest.mark.fresh_processes),
    ({"insurance": MISSING_FIELD}, ["insurance", "lis"], TAGS, {"passed", "failed", "skipped"}),
    ({}, ["mch-platform"], f"{TAGS} or @validation", {"passed", "skipped"}),
], ids=["reference, two lanes", "defective, two lanes", "one interface, two xdist workers"])
def test_two_workers_give_the_serial_results(tmp_path: Path, connectors: dict[str, str], interfaces: list[str],
                                             tags: str, statuses: set[str]) -> None:
    serial_code, serial, serial_junit = gate(tmp_path / "serial", 1, connectors, interfaces, tags)
    parallel_code, parallel, parallel_junit = gate(tmp_path / "parallel", 2, connectors, interfaces, tags)

    assert (parallel_code, parallel["decision"]) == (serial_code, serial["decision"])
    assert by_scenario(parallel) == by_scenario(serial)
    assert counts(parallel) == counts(serial)
    assert parallel["totals"] == serial["totals"]
    assert Counter(parallel_junit) == Counter(serial_junit)
    assert len(serial["scenarios"]) == sum(r["passed"] + r["failed"] + r["skipped"] for r in serial["interfaces"].values())
    assert set(by_scenario(serial).values()) == statuses
    assert serial_code == (1 if "failed" in statuses else 0)
    assert all(r["passed"] + r["failed"] > 0 for r in serial["interfaces"].values()), "every interface ran scenarios"
