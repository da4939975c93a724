"""`hih run` end to end: the project's features and a tiny feature folder (tests/data/features); the gate,
summary.json, junit.xml. Each run starts pytest-bdd in a child process, so these few tests take seconds each.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from rich.console import Console

from harness.errors import UsageError
from harness.run.child import Files, Runner, _nap, _pidfd, pytest_command
from harness.run.lanes import Lane
from harness.run.options import RunOptions
from harness.run.runner import run
from tests.conftest import DATA, ROOT
from tests.full_runs import console_of

FEATURES = DATA / "features"
PROJECT_FEATURES = ROOT / "features"
TINY = {
    "The employee is found by ID card": "passed",
    "A visit is settled and adds up": "passed",
    "A social security card without card_sn is refused on 2024.1": "passed",
    "A social security card without card_sn is accepted before 2024.1": "skipped",
}


def gate(tmp_path: Path, features_dir: Path = FEATURES, signoff_pdf: bool = False,
         **options: Any) -> tuple[int, dict[str, Any], str]:
    """A real `hih run` into `tmp_path/reports`: (exit code, summary.json, what it printed). No sign-off PDF unless
    `signoff_pdf` (these runs test the gate, not the printable pack; tests/run/test_no_signoff_pdf.py both ways)."""
    console = Console(file=io.StringIO(), width=200, color_system=None)
    report_dir = tmp_path / "reports"
    code = run(RunOptions(features_dir=features_dir, report_dir=report_dir, signoff_pdf=signoff_pdf, **options),
               console)
    printed = console.file.getvalue()  # type: ignore[attr-defined]
    return code, json.loads((report_dir / "summary.json").read_text(encoding="utf-8")), printed


def junit_cases(tmp_path: Path) -> list[Any]:
    root = etree.parse(str(tmp_path / "reports" / "junit.xml")).getroot()
    cases: list[Any] = root.findall(".//testcase")
    return cases


# -- the project's own features (the suite's shared run of all five interfaces, tests/full_runs.py) -------------------
def test_the_project_features_open_the_gate(parallel_run: Path) -> None:
    code, printed = console_of(parallel_run)
    document = json.loads((parallel_run / "summary.json").read_text(encoding="utf-8"))

    assert code == 0, printed
    assert document["decision"] == "pass"
    assert {"decision", "started", "finished", "interfaces", "scenarios"} <= set(document)
    assert datetime.fromisoformat(document["started"]) <= datetime.fromisoformat(document["finished"])
    row = document["interfaces"]["insurance"]
    assert (row["contract"], row["connector"]) == ("2025.1", "connectors.insurance:reference")
    rows = document["interfaces"]
    assert all(r["failed"] == 0 and r["passed"] > 0 for r in rows.values()), rows
    scenarios = document["scenarios"]
    assert len(scenarios) == sum(r["passed"] + r["failed"] + r["skipped"] for r in rows.values())
    for s in scenarios:
        assert {"interface", "feature", "name", "status", "duration_s"} <= set(s)
        assert s["interface"] in rows and s["feature"] and s["name"]
        assert s["status"] in ("passed", "skipped") and isinstance(s["duration_s"], float)
    for name, r in rows.items():
        assert sum(s["status"] == "passed" for s in scenarios if s["interface"] == name) == r["passed"], name

    cases: list[Any] = etree.parse(str(parallel_run / "junit.xml")).getroot().findall(".//testcase")
    assert len(cases) == len(scenarios)
    assert not [c.get("name") for c in cases if c.find("failure") is not None or c.find("error") is not None]
    assert "GATE OPEN" in printed


def test_a_passing_run_reports_statuses_steps_and_masked_evidence(tmp_path: Path) -> None:
    code, document, printed = gate(tmp_path)

    assert code == 0
    assert document["decision"] == "pass"
    row = document["interfaces"]["insurance"]
    identity = row.pop("connector_identity")
    assert document["interfaces"] == {"insurance": {
        "contract": "2025.1", "contract_effective": "2025-07-01", "connector": "connectors.insurance:reference",
        "passed": 3, "failed": 0, "skipped": 1, "duration_s": row["duration_s"], "wall_s": row["wall_s"]}}
    assert row["wall_s"] >= row["duration_s"] > 0, "the time the scenarios kept pytest busy covers their own"
    assert identity["name"] == "connectors.insurance:reference" and identity["label"] == "reference"
    assert identity["kind"] == "files-sha256" and len(identity["value"]) == 64
    scenarios = {s["name"]: s for s in document["scenarios"]}
    assert {name: s["status"] for name, s in scenarios.items()} == TINY
    for s in document["scenarios"]:
        assert s["interface"] == "insurance" and s["feature"] == "Tiny outpatient settlement"
        assert isinstance(s["duration_s"], float) and s["duration_s"] >= 0
    settled = scenarios["A visit is settled and adds up"]
    assert [step["keyword"] for step in settled["steps"]] == ["Given", "When", "Then", "And"]
    assert scenarios["A social security card without card_sn is accepted before 2024.1"]["message"] == \
        "applies to insurance contract <2024.1; this run uses 2025.1"
    assert "GATE OPEN: 3 passed, 1 skipped" in printed

    cases = junit_cases(tmp_path)
    assert len(cases) == 4
    assert sum(1 for case in cases if case.find("skipped") is not None) == 1
    assert all(case.find("failure") is None and case.find("error") is None for case in cases)

    evidence = json.loads((tmp_path / "reports" / "evidence.json").read_text(encoding="utf-8"))
    settled_evidence = evidence[settled["nodeid"]]
    assert [e["operation"] for e in settled_evidence] == ["9001", "1101", "2201", "2204", "2207"]
    certno_shown = settled_evidence[1]["request"]["input"]["data"]["mdtrt_cert_no"]
    assert "*" in certno_shown, "patient identifiers are masked in the evidence"


def test_an_older_contract_and_a_tag_selection(tmp_path: Path) -> None:
    code, document, _ = gate(tmp_path, contracts={"insurance": "2023.1"}, tags="@tiny")

    assert code == 0
    assert document["interfaces"]["insurance"]["contract"] == "2023.1"
    assert document["tags"] == "@tiny"
    statuses = {s["name"]: s["status"] for s in document["scenarios"]}
    assert statuses["A social security card without card_sn is accepted before 2024.1"] == "passed"
    assert statuses["A social security card without card_sn is refused on 2024.1"] == "skipped"


def test_a_tag_that_selects_nothing_is_a_usage_error(tmp_path: Path) -> None:
    """A tag no scenario carries selects nothing; the runner says so (not that pytest refused the run)."""
    with pytest.raises(UsageError, match="no scenario selected by --tags '@tiny and @nothing_has_this_tag'"):
        gate(tmp_path, tags="@tiny and @nothing_has_this_tag")


def test_pytest_command(tmp_path: Path) -> None:
    from harness.run.options import plan

    p = plan(RunOptions(features_dir=FEATURES, report_dir=tmp_path, workers=2, tags="@tiny",
                        contracts={"insurance": "2023.1"}, contracts_dir=DATA.parent.parent / "contracts",
                        scenario_timeout_s=45))
    args = pytest_command(p, Files.in_folder(tmp_path), tmp_path / "deadline.jsonl")

    assert args[1:3] == ["-m", "pytest"]
    assert args[args.index("--hih-contract") + 1] == "insurance=2023.1"
    assert args[args.index("--hih-connector") + 1] == "insurance=connectors.insurance:reference"
    assert args[args.index("-n") + 1] == "2", "one interface: its scenarios shared by two xdist workers"
    assert args[args.index("-m", 3) + 1] == "tiny"
    assert args[args.index("--junitxml") + 1] == str(tmp_path / "junit.xml")
    assert args[args.index("--hih-scenario-timeout") + 1] == "45"
    assert args[args.index("--hih-deadline-log") + 1] == str(tmp_path / "deadline.jsonl")
    assert "--disable-plugin-autoload" in args, "only the plugins a spec run uses, named with -p"
    assert "--hih-contracts-checked" in args, "the run checks its contracts itself, beside the process's start"
    plugins = [args[i + 1] for i, arg in enumerate(args) if arg == "-p" and not args[i + 1].startswith("no:")]
    assert plugins[:9] == ["harness.run.lean", "pytest_bdd.plugin", "harness.feature_cache", "harness.guards",
                           "harness.held_clock", "harness.plugin", "harness.step_cache", "harness.traceback_cache",
                           "harness.run.collector"]
    assert "xdist.plugin" in plugins
    blocked = [args[i + 1] for i, arg in enumerate(args) if arg == "-p" and args[i + 1].startswith("no:")]
    assert {"no:unittest", "no:debugging", "no:doctest", "no:cacheprovider", "no:legacypath", "no:subtests"} \
        <= set(blocked)
    assert args.index("-p") < args.index("harness.run.lean"), "blocked before any plugin is named"
    assert args[-1] == str(FEATURES / "insurance")


def test_a_process_started_with_its_command_line_leaves_out_what_it_would_not_use(tmp_path: Path) -> None:
    """Another lane, a restarted segment or an xdist worker is not the warm process: the first plugin it loads keeps
    out what pytest-bdd's plugin and httpx would import for nothing, and no plugin is loaded from entry points."""
    from harness.run.options import plan
    from harness.run.warm import LEFT_OUT, WORK_ROOT_ENV, child_env

    p = plan(RunOptions(features_dir=PROJECT_FEATURES, report_dir=tmp_path, interfaces=["insurance"]),
             check_contracts=False, check_connectors=False)
    args = pytest_command(p, Files.in_folder(tmp_path), tmp_path / "deadline.jsonl")
    args = [a for a in args if a != "--hih-quick-exit"]
    del args[args.index("--hih-parent-pid"):args.index("--hih-parent-pid") + 2]
    probe = ("import sys, pytest; code = pytest.main(sys.argv[1:] + ['--collect-only']); "
             f"print({{n: sys.modules.get(n) is not None for n in {LEFT_OUT!r}}}, 'respx' in sys.modules, "
             "'anyio.pytest_plugin' in sys.modules, "
             "[n for n in ('pdb', '_pytest.unittest', '_pytest.stepwise', '_pytest.pastebin') "
             "if n in sys.modules], code)")
    env = child_env()
    try:
        done = subprocess.run([sys.executable, "-c", probe, *args[3:]], capture_output=True, text=True, timeout=120,
                              cwd=ROOT, env=env)
    finally:
        shutil.rmtree(env[WORK_ROOT_ENV], ignore_errors=True)
    last = done.stdout.strip().splitlines()[-1]
    # nor are pytest's own plugins that a spec run never uses (harness.run.child.BLOCKED), nor pdb behind --pdb
    assert last == f"{dict.fromkeys(LEFT_OUT, False)} False False [] 0", done.stdout[-2000:] + done.stderr[-2000:]


def test_lanes_share_the_interfaces_and_each_runs_only_its_own(tmp_path: Path) -> None:
    from harness.run.lanes import Lane, deal
    from harness.run.options import plan

    p = plan(RunOptions(features_dir=PROJECT_FEATURES, report_dir=tmp_path, workers=2))
    recorded = {"blood-center": 2.0, "insurance": 2.7, "lis": 3.6, "mch-platform": 3.2, "pacs": 3.2}
    lanes = deal(p.feature_dirs, 2, recorded)
    assert [lane.interfaces for lane in lanes] == [["lis", "mch-platform"], ["blood-center", "insurance", "pacs"]]
    assert [round(lane.load, 1) for lane in lanes] == [6.8, 7.9], "the busiest lane as light as it can be"
    kinds = {"blood-center": "soap", "mch-platform": "soap", "lis": "hl7v2-mllp", "pacs": "hl7v2-mllp",
             "insurance": "http-json"}
    together = deal(p.feature_dirs, 2, recorded, kinds)
    assert [lane.interfaces for lane in together] == [["lis", "pacs"], ["blood-center", "insurance", "mch-platform"]]
    assert [round(lane.load, 1) for lane in together] == [6.8, 7.9], "as balanced, with each transport in one lane"
    assert all(lane.workers == 1 for lane in lanes)
    assert [lane.interfaces for lane in deal(p.feature_dirs, 1, {})] == [list(p.feature_dirs)]
    single = deal({"lis": p.feature_dirs["lis"]}, 2, {})
    assert [(lane.interfaces, lane.workers) for lane in single] == [(["lis"], 2)], "one interface: xdist inside"
    args = pytest_command(p, Files.in_folder(tmp_path), tmp_path / "d.jsonl", Lane(1, ["lis", "pacs"]))
    assert [args[i + 1] for i, a in enumerate(args) if a == "--hih-contract"] == ["lis=2024.1", "pacs=2024.1"]
    assert args[-2:] == [str(PROJECT_FEATURES / "lis"), str(PROJECT_FEATURES / "pacs")] and "-n" not in args


def test_the_run_learns_of_a_pytest_process_exit_at_once() -> None:
    """Between polls the run waits on the processes' exits (a pidfd on Linux), not a fixed sleep; with none left
    it does not wait at all."""
    runner = Runner(Lane(0, ["insurance"]), Path("unused"))
    runner.process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.3)"])
    runner.exit_fd = _pidfd(runner.process.pid)
    try:
        started = time.monotonic()
        while runner.process.poll() is None and time.monotonic() - started < 30:
            _nap([runner], 20.0)
        waited = time.monotonic() - started
        assert runner.process.poll() == 0
        if runner.exit_fd is not None:  # a system with pidfds: woken by the exit, not by the 20 s timeout
            assert waited < 10, f"waited {waited:.1f} s for a process that exited after 0.3 s"
    finally:
        runner.ended()
    assert not runner.running and [r for r in [runner] if r.process is not None or r.exit_fd is not None] == []
    started = time.monotonic()
    _nap([runner], 20.0)
    assert time.monotonic() - started < 5, "waited with no process left"
