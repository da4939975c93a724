"""The planted-defect suite (tests/data/connectors/defects): every defect closes the gate of its interface, a
scenario meant to catch it is among those that fail, and every failure says in business words what was expected
and what happened (a Chinese reason, 期望 and 实际; never a bare exception or an object dump). The references open
the gate on every interface.

One `hih run` per round takes defects of every interface at once, so that the suite costs a few child runs, not
sixty: on each interface, one defect or several whose tags select no scenario in common, each scenario meeting the
connector of the one defect that selects it (tests/data/connectors/defects/together.py), as in a run of its own. The
defects of the suite's shared runs of every scenario (tests/full_runs.py, `DEFECT_RUNS`) are checked in those runs;
the others are dealt into rounds of their own. A round runs the scenarios its defects' tags select, on each of its
interfaces; the defects are dealt into rounds so that those runs hold few scenarios beyond what each defect needs. A round runs in one pytest process (`workers=1`): its
few scenarios cost less than the start of a process per interface (≈ 5.4 s of CPU a round against ≈ 7.0 s, bench/RESULTS.md), and whether
a defect is caught does not depend on how the scenarios are shared out (tests/run/test_parallel.py proves that).
"""

from __future__ import annotations

import functools
import importlib
import json
import operator
import re
from collections import defaultdict
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from pytest_bdd.parser import FeatureParser

from harness.contract.interfaces import interface as interface_of
from harness.failure import parse_failure
from tests.conftest import ROOT
from tests.data.connectors.defects import KINDS, Defect, blood_center, hl7, insurance, mch_platform
from tests.data.connectors.defects.together import Together, selects, spec_of
from tests.full_runs import DEFECT_RUNS, console_of
from tests.run.test_runner import gate

DEFECTS: list[Defect] = [*insurance.DEFECTS, *blood_center.DEFECTS, *mch_platform.DEFECTS, *hl7.DEFECTS]
IN_SHARED_RUNS = {factory for connectors in DEFECT_RUNS.values() for factory in connectors.values()}
"""The defects a shared run of every scenario carries: checked there, not dealt into rounds."""
INTERFACES = ("insurance", "blood-center", "mch-platform", "lis", "pacs")
CHINESE = re.compile(r"[\u4e00-\u9fff]")
BARE = re.compile(r"^\s*(?:[\w.]+\.)?(?:AssertionError|IndexError|KeyError|TypeError|AttributeError|ValueError|"
                  r"StopIteration|SpecFailure)\b|^\s*assert ")


@cache
def named_tags(interface: str) -> tuple[tuple[str, re.Pattern[str], frozenset[str]], ...]:
    """The tags of each scenario of the interface's features, by feature name and a pattern of the scenario's name as
    summary.json gives it (an outline's placeholders stand for its example row's values, which may be masked)."""
    found: list[tuple[str, re.Pattern[str], frozenset[str]]] = []
    for path in sorted((ROOT / "features" / interface_of(interface).features).rglob("*.feature")):
        feature = FeatureParser(str(path.parent), path.name).parse()
        for scenario in feature.scenarios.values():
            tags = frozenset(tag.lstrip("@") for tag in {*feature.tags, *scenario.tags})
            parts = re.split(r"<[^<>]+>", scenario.name)
            found.append((feature.name, re.compile(".+?".join(map(re.escape, parts)) + r"\Z", re.S), tags))
    return tuple(found)


def tags_of(interface: str, scenario: dict[str, Any]) -> frozenset[str]:
    """The tags of a scenario of summary.json (its feature and name)."""
    tags = {t for feature, name, t in named_tags(interface)
            if feature == scenario["feature"] and name.match(scenario["name"])}
    assert len(tags) == 1, (interface, scenario["feature"], scenario["name"], tags)
    return tags.pop()


@cache
def scenario_tags(interface: str) -> tuple[frozenset[str], ...]:
    """The tags of each runnable scenario of the interface's features (an outline: one per example row)."""
    found: list[frozenset[str]] = []
    for path in sorted((ROOT / "features" / interface_of(interface).features).rglob("*.feature")):
        feature = FeatureParser(str(path.parent), path.name).parse()
        for scenario in feature.scenarios.values():
            rows = sum(len(list(examples.as_contexts())) for examples in scenario.examples) or 1
            found += [frozenset(tag.lstrip("@") for tag in {*feature.tags, *scenario.tags})] * rows
    return tuple(found)


def round_tags(planted: list[Defect | None]) -> str:
    """The tag expression of a round's run: every scenario one of its defects needs."""
    return " or ".join(f"({tags})" for tags in sorted({d.tags for d in planted if d is not None}))


@cache
def _selected(interface: str, tags: str) -> int:
    """The scenarios of the interface a tag expression selects, one bit each."""
    return sum(1 << i for i, found in enumerate(scenario_tags(interface)) if selects(tags, found))


def _size(planted: list[Defect]) -> int:
    """How many scenarios a round's run holds: on each of its interfaces, those one of its defects' tags select."""
    tags = frozenset(d.tags for d in planted)
    return sum(_count(interface, tags) for interface in {d.interface for d in planted})


@cache
def _count(interface: str, tags: frozenset[str]) -> int:
    union = 0
    for expression in tags:
        union |= _selected(interface, expression)
    return union.bit_count()


def groups(defects: list[Defect]) -> list[list[Defect]]:
    """The defects of one interface in groups that can share a run: in each, no two select a scenario in common. Each
    defect, in the order given, joins the first group it fits."""
    found: list[tuple[int, list[Defect]]] = []
    for defect in defects:
        mask = _selected(defect.interface, defect.tags)
        at = next((i for i, (taken, _) in enumerate(found) if not taken & mask), len(found))
        if at == len(found):
            found.append((0, []))
        found[at] = (found[at][0] | mask, [*found[at][1], defect])
    return [group for _, group in found]


def rounds() -> list[list[Defect]]:
    """As many rounds as an interface has groups of defects outside the shared runs (`groups`, its defects in the
    order of their kind); round i starts with the i-th group of each interface, then two groups of one interface
    change rounds wherever that makes the two runs smaller, until no exchange does (deterministic, so every xdist
    worker collects the same rounds)."""
    order = list(KINDS)
    by_interface: dict[str, list[Defect]] = defaultdict(list)
    own = [d for d in DEFECTS if d.factory not in IN_SHARED_RUNS]
    for defect in sorted(own, key=lambda d: (order.index(d.kind), d.tags, d.factory)):
        by_interface[defect.interface].append(defect)
    grouped = [groups(found) for found in by_interface.values()]
    depth = max(len(found) for found in grouped)
    grid = [[found[i] if i < len(found) else [] for found in grouped] for i in range(depth)]
    sizes = [_size(flat(planted)) for planted in grid]
    improved = True
    while improved:
        improved = False
        for column in range(len(by_interface)):
            for a in range(depth):
                for b in range(a + 1, depth):
                    grid[a][column], grid[b][column] = grid[b][column], grid[a][column]
                    after = _size(flat(grid[a])), _size(flat(grid[b]))
                    if sum(after) < sizes[a] + sizes[b]:
                        sizes[a], sizes[b] = after
                        improved = True
                    else:
                        grid[a][column], grid[b][column] = grid[b][column], grid[a][column]
    return [flat(planted) for planted in grid]


def flat(planted: list[list[Defect]]) -> list[Defect]:
    return [d for group in planted for d in group]


def connectors_of(planted: list[Defect]) -> dict[str, str]:
    """A round's `--connector` values: on each interface, its defect's factory, or its defects' together."""
    by_interface: dict[str, list[Defect]] = defaultdict(list)
    for defect in planted:
        by_interface[defect.interface].append(defect)
    return {interface: spec_of(found) for interface, found in by_interface.items()}


def failure_text_problems(message: str) -> list[str]:
    """What is wrong with a failure text a reviewer reads (empty: it is in business words, expected and actual)."""
    problems = []
    parsed = parse_failure(message)
    if not CHINESE.search(parsed.reason):
        problems.append(f"the reason is not a Chinese sentence: {parsed.reason[:120]!r}")
    if BARE.search(message):
        problems.append(f"a bare exception: {message[:120]!r}")
    if " object at 0x" in message:
        problems.append("an object dump")
    if parsed.expected is None or parsed.actual is None:
        problems.append(f"no 期望/实际: {message[:200]!r}")
    return problems


def test_the_suite_covers_each_class_of_defect_on_every_interface_where_it_applies() -> None:
    per_interface = {i: [d for d in DEFECTS if d.interface == i] for i in INTERFACES}
    assert all(len(found) >= 8 for found in per_interface.values()), {i: len(f) for i, f in per_interface.items()}
    assert len(DEFECTS) >= 40
    assert {d.kind for d in DEFECTS} == set(KINDS)
    for interface in INTERFACES:
        kinds = {d.kind for d in per_interface[interface]}
        assert {"restart", "clock", "time", "after"} <= kinds, (interface, kinds)
    assert len({d.factory for d in DEFECTS}) == len(DEFECTS)
    assert all(isinstance(d.caught_by, tuple) and d.caught_by and d.story for d in DEFECTS)


def test_the_rounds_and_the_shared_runs_hold_every_defect_once_and_at_most_one_per_interface() -> None:
    dealt = rounds()
    shared = [*(d for d in DEFECTS if d.factory in IN_SHARED_RUNS)]
    assert len(shared) == len(IN_SHARED_RUNS) == 3 * len(INTERFACES), "every shared run's connector is a planted defect"
    assert sorted(d.factory for planted in [*dealt, shared] for d in planted) == sorted(d.factory for d in DEFECTS)
    for planted in dealt:
        for interface in {d.interface for d in planted}:
            masks = [_selected(interface, d.tags) for d in planted if d.interface == interface]
            assert sum(masks) == functools.reduce(operator.or_, masks), f"{interface}: two defects meet a scenario"
    assert len(dealt) == max(len(groups([d for d in DEFECTS if d.interface == i and d not in shared]))
                             for i in INTERFACES)
    assert len(dealt) < max(sum(d.interface == i and d not in shared for d in DEFECTS) for i in INTERFACES)
    assert all(_selected(d.interface, d.tags) for d in DEFECTS), "every defect's tags select scenarios"
    smoke = [t for t in scenario_tags("insurance") if "smoke" in t]
    assert _count("insurance", frozenset({"@smoke"})) == len(smoke) > 0
    assert _count("insurance", frozenset({"@smoke", "@fault"})) > len(smoke)


def test_defects_sharing_a_run_each_meet_the_scenarios_their_tags_select(monkeypatch: pytest.MonkeyPatch) -> None:
    shared = [d for d in insurance.DEFECTS if d.tags in ("@clock", "@restart")]
    spec = connectors_of(shared)["insurance"]
    module, _, name = spec.partition(":")
    factory = getattr(importlib.import_module(module), name)
    assert isinstance(factory, Together) and list(factory.defects) == shared
    assert factory.pick(frozenset({"restart", "insurance"})).tags == "@restart"
    assert factory.pick(frozenset({"clock"})).tags == "@clock"
    assert factory.pick(frozenset({"smoke"})) == shared[0], "a scenario of another interface's defect: the first"
    assert connectors_of(shared[:1]) == {"insurance": shared[0].factory}
    with pytest.raises(AttributeError):
        getattr(importlib.import_module(module), "insurance+ShiftedClock+NoSuchDefect")
    monkeypatch.setenv("PYTEST_CURRENT_TEST", "features/insurance/test_insurance.py::test_nothing (setup)")
    with pytest.raises(RuntimeError, match="cannot tell which planted defect"):
        factory(None)


def test_failure_texts_are_checked_for_what_a_reviewer_reads() -> None:
    assert failure_text_problems("余额不符\n期望: 1500.00\n实际: 1486.50") == []
    assert failure_text_problems("AssertionError: balance 1486.50")
    assert failure_text_problems("KeyError: 'settlement'")
    assert failure_text_problems("结算失败\n期望: <Settlement object at 0x7f00>\n实际: 无")
    assert failure_text_problems("结算失败")


@pytest.mark.slow
@pytest.mark.parametrize("planted", rounds(), ids=lambda r: "+".join(d.factory.rsplit(":", 1)[-1] for d in r))
def test_every_planted_defect_closes_the_gate_and_is_told_in_business_words(tmp_path: Path, planted: list[Defect]) -> None:
    tags = round_tags(list(planted))
    connectors = connectors_of(list(planted))
    code, document, printed = gate(tmp_path, features_dir=ROOT / "features", interfaces=list(connectors),
                                   connectors=connectors, tags=tags, workers=1)
    check_caught(code, document, printed, planted)


@pytest.mark.parametrize("shared", DEFECT_RUNS)
def test_the_defects_of_the_shared_runs_close_the_gate_and_are_told_in_business_words(
        shared: str, request: pytest.FixtureRequest) -> None:
    """The same checks over a shared run of every scenario (more scenarios than the defects' tags select)."""
    report_dir: Path = request.getfixturevalue(shared)
    code, printed = console_of(report_dir)
    document = json.loads((report_dir / "summary.json").read_text(encoding="utf-8"))
    planted = [d for d in DEFECTS if d.factory in DEFECT_RUNS[shared].values()]
    assert len(planted) == len(INTERFACES)
    check_caught(code, document, printed, planted)


def check_caught(code: int, document: dict[str, Any], printed: str, planted: list[Defect]) -> None:
    """The gate closed; each defect failed one of the scenarios meant to catch it, among those its tags select (a
    round's other defects of its interface meet none of them); every failure is in business words."""
    assert code == 1, printed
    assert "GATE CLOSED" in printed
    for defect in planted:
        row = document["interfaces"][defect.interface]
        failed = [s for s in document["scenarios"] if s["interface"] == defect.interface and s["status"] == "failed"]
        assert row["failed"] > 0 and failed, (defect.factory, row)
        names = [s["name"] for s in failed if selects(defect.tags, tags_of(defect.interface, s))]
        assert any(part in name for part in defect.caught_by for name in names), (defect.factory, names)
        texts: dict[str, Any] = {s["name"]: failure_text_problems(s.get("message", "")) for s in failed}
        assert not {k: v for k, v in texts.items() if v}, (defect.factory, texts)


def test_the_reference_connectors_open_the_gate_on_every_interface(parallel_run: Path) -> None:
    document = json.loads((parallel_run / "summary.json").read_text(encoding="utf-8"))

    assert document["decision"] == "pass"
    assert set(document["interfaces"]) == set(INTERFACES)
    for name, row in document["interfaces"].items():
        assert row["failed"] == 0 and row["passed"] > 30, (name, row)
        assert row["connector"].startswith("connectors."), (name, row)
