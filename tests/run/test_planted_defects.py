"""The planted-defect suite (tests/data/connectors/defects): every defect closes the gate of its interface, a
scenario meant to catch it is among those that fail, and every failure says in business words what was expected
and what happened (a Chinese reason, 期望 and 实际; never a bare exception or an object dump). The references open
the gate on every interface.

One `hih run` per round takes one defect of each interface at once (the connectors are per interface), so that the
suite costs a dozen child runs, not sixty.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from harness.failure import parse_failure
from tests.conftest import ROOT
from tests.data.connectors.defects import KINDS, Defect, blood_center, hl7, insurance, mch_platform
from tests.run.test_runner import gate

DEFECTS: list[Defect] = [*insurance.DEFECTS, *blood_center.DEFECTS, *mch_platform.DEFECTS, *hl7.DEFECTS]
INTERFACES = ("insurance", "blood-center", "mch-platform", "lis", "pacs")
CHINESE = re.compile(r"[\u4e00-\u9fff]")
BARE = re.compile(r"^\s*(?:[\w.]+\.)?(?:AssertionError|IndexError|KeyError|TypeError|AttributeError|ValueError|"
                  r"StopIteration|SpecFailure)\b|^\s*assert ")


def rounds() -> list[list[Defect]]:
    """Round i runs the i-th defect of each interface; each interface's defects in the order of their kind, so
    that a round's defects tend to share tags and its run stays small."""
    order = list(KINDS)
    by_interface: dict[str, list[Defect]] = defaultdict(list)
    for defect in sorted(DEFECTS, key=lambda d: (order.index(d.kind), d.tags)):
        by_interface[defect.interface].append(defect)
    depth = max(len(found) for found in by_interface.values())
    return [[found[i] for found in by_interface.values() if i < len(found)] for i in range(depth)]


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


def test_failure_texts_are_checked_for_what_a_reviewer_reads() -> None:
    assert failure_text_problems("余额不符\n期望: 1500.00\n实际: 1486.50") == []
    assert failure_text_problems("AssertionError: balance 1486.50")
    assert failure_text_problems("KeyError: 'settlement'")
    assert failure_text_problems("结算失败\n期望: <Settlement object at 0x7f00>\n实际: 无")
    assert failure_text_problems("结算失败")


@pytest.mark.slow
@pytest.mark.parametrize("planted", rounds(), ids=lambda r: "+".join(d.factory.rsplit(":", 1)[-1] for d in r))
def test_every_planted_defect_closes_the_gate_and_is_told_in_business_words(tmp_path: Path, planted: list[Defect]) -> None:
    tags = " or ".join(f"({d.tags})" for d in planted)
    code, document, printed = gate(tmp_path, features_dir=ROOT / "features", interfaces=[d.interface for d in planted],
                                   connectors={d.interface: d.factory for d in planted}, tags=tags)

    assert code == 1, printed
    assert "GATE CLOSED" in printed
    for defect in planted:
        row = document["interfaces"][defect.interface]
        failed = [s for s in document["scenarios"] if s["interface"] == defect.interface and s["status"] == "failed"]
        assert row["failed"] > 0 and failed, (defect.factory, row)
        names = [s["name"] for s in failed]
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
