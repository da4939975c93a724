"""pytest-bdd's scenario data on a run's reports (what its cucumber writer reads): masked on each scenario's call
report, the only one it reads, and dropped from the set-up's and tear-down's; over a real run of insurance
scenarios (some failing), cucumber.json still holds every scenario run, and nothing unmasked."""

from __future__ import annotations

import json
import os
from pathlib import Path

from harness.run.child import INI, PLUGINS
from harness.run.options import PROJECT_ROOT
from tests.forkserver import ForkServer
from tests.report.identifiers import unmasked

DEFECT = "tests.data.connectors.double_charge_connector:make"
"""Fails the lost-settlement-reply scenarios; the other @fault scenarios pass."""
PROBE = '''
import json, os, pytest
from pytest_bdd import reporting
SEEN = []
@pytest.hookimpl(trylast=True)
def pytest_runtest_logreport(report):
    context = reporting.test_report_context_registry.get(report)
    SEEN.append({"when": report.when, "outcome": report.outcome, "context": context is not None,
                 "scenario": json.dumps(context.scenario, ensure_ascii=False) if context else ""})
def pytest_sessionfinish(session):
    with open(os.environ["HIH_CONTEXTS_OUT"], "w", encoding="utf-8") as out:
        json.dump(SEEN, out, ensure_ascii=False)
'''


def test_only_call_reports_carry_the_scenario_data_and_cucumber_json_has_every_scenario(
        tmp_path: Path, fork_server: ForkServer) -> None:
    """A run's pytest process, forked as the suite's runs' are (tests/forkserver.py): what it reports is checked,
    not how it starts."""
    (tmp_path / "hih_contexts_probe.py").write_text(PROBE, encoding="utf-8")
    out = tmp_path / "contexts.json"
    reports = tmp_path / "reports"
    reports.mkdir()
    argv = ["-c", str(INI), "--rootdir", str(PROJECT_ROOT), "--disable-plugin-autoload",
            *[a for plugin in PLUGINS for a in ("-p", plugin)], "-p", "harness.run.collector",
            "--hih-events", str(reports / "events.jsonl"), "-p", "hih_contexts_probe",
            "--junitxml", str(reports / "junit.xml"), "-q", "--cucumberjson", str(reports / "cucumber.json"),
            "-m", "fault and not no_answer", "--hih-contract", "insurance=2025.1", "--hih-connector", f"insurance={DEFECT}",
            str(PROJECT_ROOT / "features" / "insurance")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(PROJECT_ROOT)]),
           "HIH_CONTEXTS_OUT": str(out)}
    code = fork_server.run(argv, reports / "pytest.log", env, PROJECT_ROOT, timeout=300)
    assert code == 1, "the planted defect fails some scenarios"
    seen = json.loads(out.read_text(encoding="utf-8"))
    calls = [r for r in seen if r["when"] == "call"]
    assert {r["outcome"] for r in calls} == {"passed", "failed"}
    assert all(r["context"] for r in calls), "each scenario's call report keeps its data for cucumber.json"
    assert not any(r["context"] for r in seen if r["when"] != "call"), "set-up and tear-down keep none"
    elements = [e for f in json.loads((reports / "cucumber.json").read_text(encoding="utf-8")) for e in f["elements"]]
    assert len(elements) == len(calls)
    assert {any(s["result"]["status"] == "failed" for s in e["steps"]) for e in elements} == {True, False}
    # the data kept on the call reports, scanned with the run's files (less the steps' durations in seconds, whose
    # digits the scan would take for identifiers)
    kept = [json.loads(r["scenario"]) for r in calls]
    for scenario in kept:
        for step in scenario["steps"]:
            step.pop("duration", None)
    (reports / "contexts.json").write_text(json.dumps(kept, ensure_ascii=False), encoding="utf-8")
    assert unmasked(reports) == []
