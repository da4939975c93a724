"""When the event stream cannot be trusted: the scenarios' results from junit.xml and pytest's exit status.

pytest writes junit.xml itself at the end of the session, independently of hih's event stream. If events were
damaged (or the stream stopped early while pytest still finished), every scenario junit.xml knows and the events
do not is added from it, and the decision agrees with pytest's exit status: a run pytest calls failed (exit 1)
never opens the gate.
"""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from harness.report.formats import hardened_parser
from harness.run.results import Outcome, ScenarioResult

DECIDED_FROM = "junit.xml and pytest's exit status (the event stream was damaged)"


def nodeid_of(case: etree._Element) -> str:
    """pytest's node id of a junit testcase of a module-level test: `a/b/test_x.py::test_name[params]`."""
    classname, name = case.get("classname", ""), case.get("name", "")
    return f"{classname.replace('.', '/')}.py::{name}" if classname else name


def from_junit(outcome: Outcome, junit: Path, exitstatus: int | None) -> int:
    """Add the results junit.xml has and the events lost; returns how many were added."""
    if not junit.is_file():
        return 0
    try:
        root = etree.parse(str(junit), hardened_parser()).getroot()
    except (etree.XMLSyntaxError, OSError):
        return 0
    added = 0
    for case in root.iter("testcase"):
        nodeid = nodeid_of(case)
        if nodeid in outcome.results:
            continue
        props = {p.get("name", ""): p.get("value", "") for p in case.iter("property")}
        problem = next((case.find(tag) for tag in ("failure", "error") if case.find(tag) is not None), None)
        skipped = case.find("skipped")
        status = "failed" if problem is not None else "skipped" if skipped is not None else "passed"
        detail = problem if problem is not None else skipped
        message = (detail.get("message") or "") if detail is not None else ""
        outcome.results[nodeid] = ScenarioResult(
            nodeid=nodeid, interface=props.get("hih_interface", ""), feature=props.get("hih_feature", ""),
            name=props.get("hih_scenario") or nodeid.rsplit("::", 1)[-1], status=status,
            duration_s=float(case.get("time") or 0.0), message=message[:2000], key=outcome.key_of(nodeid))
        added += 1
    outcome.decided_from = DECIDED_FROM
    if exitstatus == 1 and not any(r.status == "failed" for r in outcome.results.values()):
        # pytest says something failed that no record shows: never open the gate on a lost failure
        outcome.results["<pytest>"] = ScenarioResult("<pytest>", "", "", "pytest reported a failure", "failed", 0.0,
                                                     "pytest exited 1 but the failing scenario's record was lost")
    return added
