"""Per-scenario deadlines: a connector that never returns fails its scenario, named, and the run goes on.

Over real sockets: the planted `hanging_connector` sends half an HTTP request to the insurance mock and waits for
a reply with no timeout; `stuck_connector` swallows every interruption, so only ending its process stops it.
The tiny feature folder (tests/data/features) keeps each run to seconds; where one scenario after another proves
the point, its two @outpatient scenarios (each past its deadline in seconds) are all a run holds.

These runs share the machine (the parallel pass of ./scripts/test): nothing here is measured. What they prove is
which scenarios failed, with which words, in which reports, and which processes were ended; the clock is the
product's. The one thing load could change is where a scenario is when its deadline fires: `TIMEOUT_S` is set well
above the time a scenario takes to reach its connector call on a busy machine, and "< 60 s" only tells the end of a
run from a hang. They wait more than they compute (each stuck scenario holds its worker for its deadline and a grace
of `GRACE_S`), which is what the parallel pass's extra worker is there to fill.
"""

from __future__ import annotations

import io
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from rich.console import Console

from harness.failure import parse_failure
from harness.run import deadline
from harness.run.deadline import Running, grace_for, timeout_text
from harness.run.options import RunOptions
from harness.run.runner import run
from tests.conftest import DATA

FEATURES = DATA / "features"
HANGING = "tests.data.connectors.hanging_connector:make"
STUCK = "tests.data.connectors.stuck_connector:make"
QUERIES = {"The employee is found by ID card": "When the hospital looks the person up by ID card",
           "A visit is settled and adds up": "When the hospital settles a visit of 2 x 12.50 and 1 x 20.00",
           "A social security card without card_sn is refused on 2024.1":
               "When the hospital looks the person up by social security card without card_sn"}


TIMEOUT_S = 5
"""Well above the longest a passing scenario of the folder took, set-up included, on a busy machine (the first one in
a process starts the mock; bench/scenario_time.py: 0.8 s on one worker and 3.0 s on two at a load average of 16-28
on the 2 cores, 1.3 s the median): a scenario is at its connector call long before its deadline."""


GRACE_S = 0.5
"""The grace a stuck scenario gets after its deadline (`HIH_SCENARIO_GRACE_S`; the product's least is 2 s): its
connector swallows every interruption, so any grace ends the same way, the process ended; where the scenario is when
it ends was settled at the deadline."""


OUTPATIENT = "@outpatient"
"""Two of the queries, one after the other: enough for "the run goes on with the next scenario"."""


def gate(tmp_path: Path, connector: str, workers: int, tags: str | None = None) -> tuple[int, dict[str, Any], float]:
    console = Console(file=io.StringIO(), width=120, color_system=None)
    started = time.monotonic()
    code = run(RunOptions(features_dir=FEATURES, report_dir=tmp_path / "reports", workers=workers, tags=tags,
                          connectors={"insurance": connector}, scenario_timeout_s=TIMEOUT_S, signoff_pdf=False),
               console)
    elapsed = time.monotonic() - started
    return code, json.loads((tmp_path / "reports" / "summary.json").read_text(encoding="utf-8")), elapsed


def check_named(document: dict[str, Any], stuck: bool, every: bool = True) -> None:
    """Every scenario that queries a person failed with the step and the call (`every`: all four scenarios ran,
    and the skipped one stayed skipped; else the two @outpatient ones)."""
    statuses = {s["name"]: s["status"] for s in document["scenarios"]}
    expected = {**dict.fromkeys(QUERIES, "failed"),
                "A social security card without card_sn is accepted before 2024.1": "skipped"} if every else \
        dict.fromkeys(list(QUERIES)[:2], "failed")
    assert statuses == expected
    assert document["not_run"] == [] and document["decision"] == "fail"
    for scenario in (s for s in document["scenarios"] if s["status"] == "failed"):
        text = parse_failure(scenario["message"])
        assert text.reason == f"场景超过 {TIMEOUT_S} 秒时限仍未结束，已中止"
        assert text.expected == f"场景在 {TIMEOUT_S} 秒内结束"
        assert text.actual is not None
        assert f"步骤「{QUERIES[scenario['name']]}」等待连接器调用 insurance.query_person() 返回" in text.actual
        assert ("中止后仍未返回，进程被结束" in text.actual) is stuck
        assert text.detail.startswith(f'Scenario timed out after {TIMEOUT_S} s: in step "{QUERIES[scenario["name"]]}", '
                                      "the connector call insurance.query_person() did not return.")


def junit_failures(tmp_path: Path) -> dict[str, str]:
    root = etree.parse(str(tmp_path / "reports" / "junit.xml")).getroot()
    return {c.get("name"): (c.find("failure").get("message") or "") for c in root.iter("testcase")
            if c.find("failure") is not None}


@pytest.mark.slow
def test_a_hanging_connector_fails_its_scenarios_by_name_and_the_run_goes_on(tmp_path: Path) -> None:
    code, document, elapsed = gate(tmp_path, HANGING, workers=1, tags=OUTPATIENT)

    assert code == 1
    check_named(document, stuck=False, every=False)
    assert elapsed < 60, f"two scenarios of {TIMEOUT_S} s each, not a hang"
    assert all(f"场景超过 {TIMEOUT_S} 秒时限仍未结束，已中止" in m for m in junit_failures(tmp_path).values())
    assert len(junit_failures(tmp_path)) == 2


@pytest.mark.slow
@pytest.mark.parametrize(("workers", "tags"), [(1, OUTPATIENT), (2, None)], ids=["serial", "xdist"])
def test_a_connector_that_ignores_the_interruption_is_ended_and_the_run_goes_on(
        tmp_path: Path, workers: int, tags: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The process running it is ended after the grace period; serially pytest starts again for the scenario left,
    under xdist a new worker takes what the ended one held (three scenarios on two workers). Either way each is
    failed, named, and in junit.xml; and the ended processes' connector work folders are gone."""
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setenv("TMPDIR", str(temporary))  # the run's and its pytest processes' temporary folder
    monkeypatch.setattr(tempfile, "tempdir", None)
    monkeypatch.setenv(deadline.GRACE_ENV, f"{GRACE_S}")
    code, document, _ = gate(tmp_path, STUCK, workers=workers, tags=tags)
    assert sorted(p.name for p in temporary.iterdir() if p.name.startswith("hih-")) == [], "left behind"
    ran = 3 if tags is None else 2

    assert code == 1
    check_named(document, stuck=True, every=tags is None)
    assert len(junit_failures(tmp_path)) == ran
    notes = (tmp_path / "reports" / "deadline.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(notes) == ran and all(json.loads(n)["message"].endswith("so its process was ended.") for n in notes)


# -- the message and the call tracking, without a run -------------------------------------------------------------
def test_the_message_names_where_the_scenario_was() -> None:
    running = Running("n", "call", 0.0, {}, step="当 医院结算收费批次", calls=["insurance.settle()"])
    text = parse_failure(timeout_text(60, running))
    assert (text.reason, text.expected) == ("场景超过 60 秒时限仍未结束，已中止", "场景在 60 秒内结束")
    assert text.actual == "60 秒后仍在步骤「当 医院结算收费批次」等待连接器调用 insurance.settle() 返回"
    assert text.detail == ('Scenario timed out after 60 s: in step "当 医院结算收费批次", the connector call '
                           "insurance.settle() did not return.")

    between = Running("n", "call", 0.0, {}, last_step="那么 结算成功")
    assert parse_failure(timeout_text(5, between)).actual == "5 秒后仍在步骤「那么 结算成功」之后运行（没有进行中的连接器调用）"
    setup = Running("n", "setup", 0.0, {}, calls=["connector factory his.adapter:make"])
    assert "准备场景时等待连接器调用 connector factory his.adapter:make 返回" in timeout_text(5, setup)
    assert "while the scenario was being set up" in timeout_text(5, setup)


def test_grace() -> None:
    assert (grace_for(1), grace_for(20), grace_for(60), grace_for(600)) == (2.0, 5.0, 10.0, 10.0)


class _Options:
    """What the deadline plugin adds to pytest's options (their defaults), and a configuration that gives them."""

    def __init__(self) -> None:
        self.defaults: dict[str, Any] = {}
        self.registered: list[Any] = []
        self.option = type("Option", (), {"numprocesses": None, "dist": "no"})()
        self.pluginmanager = self

    def getgroup(self, name: str) -> _Options:
        return self

    def addoption(self, name: str, **options: Any) -> None:
        self.defaults[name] = options.get("default")

    def getoption(self, name: str) -> Any:
        return self.defaults[name]

    def register(self, plugin: Any, name: str) -> None:
        self.registered.append(plugin)


@pytest.mark.parametrize(("given", "grace"), [(None, 2.0), ("0.5", 0.5), ("0", 2.0)])
def test_the_grace_given_in_the_environment_is_the_one_a_run_gives(monkeypatch: pytest.MonkeyPatch, given: str | None,
                                                                    grace: float) -> None:
    if given is None:
        monkeypatch.delenv(deadline.GRACE_ENV, raising=False)
    else:
        monkeypatch.setenv(deadline.GRACE_ENV, given)
    options = _Options()
    deadline.pytest_addoption(options)  # type: ignore[arg-type]
    options.defaults["--hih-scenario-timeout"] = 5.0
    deadline.pytest_configure(options)  # type: ignore[arg-type]
    [armed] = options.registered
    try:
        assert isinstance(armed, deadline.Deadline) and armed.grace_s == grace
    finally:
        deadline._ACTIVE.remove(armed)
        armed.stop()


class Port:
    def __init__(self) -> None:
        self.seen: list[list[str]] = []

    def settle(self, amount: int) -> int:
        self.seen.append(list(deadline._ACTIVE[-1].running.calls) if deadline._ACTIVE and deadline._ACTIVE[-1].running else [])
        return amount * 2

    @property
    def name(self) -> str:
        return "port"


def test_watch_records_the_call_in_progress_and_keeps_the_object() -> None:
    port = Port()
    watched = deadline.watch(port, "insurance")
    assert watched is port and isinstance(watched, Port) and watched.name == "port"
    assert watched.settle(2) == 4 and watched.settle.__name__ == "settle"
    armed = deadline.Deadline(60, None)
    deadline._ACTIVE.append(armed)
    try:
        armed.running = Running("n", "call", float("inf"), {})
        watched.settle(1)
        assert port.seen[-1] == ["insurance.settle()"]
        assert armed.running.calls == [], "the call is over"
    finally:
        deadline._ACTIVE.remove(armed)
        armed.stop()


def test_watch_leaves_an_object_it_cannot_change_as_it_is() -> None:
    class Slotted:
        __slots__ = ()

        def settle(self) -> int:
            return 1

    slotted = Slotted()
    assert deadline.watch(slotted, "insurance") is slotted and slotted.settle() == 1
