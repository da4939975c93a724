"""Planted defects against every scenario of their interface, not only the tagged ones the planted-defect suite
runs (tests/run/test_planted_defects.py): the gate closes, the scenario meant to catch the defect fails and is
printed, and the defect is specific (scenarios that do not touch it still pass; for the blood centre exactly the
named scenarios fail).

One `hih run` per round carries one defect of each interface (connectors are per interface), so the three rounds
cost three child runs, not fifteen; each is one of the suite's shared runs (tests/full_runs.py, `DEFECT_RUNS`), which
tests/run/test_planted_defects.py reads too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from tests.full_runs import DEFECT_RUNS, console_of

pytestmark = pytest.mark.slow
CONNECTORS = "tests.data.connectors."


@dataclass(frozen=True)
class Expect:
    """What one interface's defect must do to its scenarios."""

    factory: str
    named: tuple[str, ...] = ()
    """Parts of scenario names each of which some failing scenario holds."""
    exactly: bool = False
    """The failing scenarios are exactly those named (full names)."""
    said: str = ""
    """Words some failure message holds."""


def hl7(module: str, lis: str, pacs: str) -> dict[str, Expect]:
    return {"lis": Expect(f"{CONNECTORS}{module}:make_lis", (lis,)),
            "pacs": Expect(f"{CONNECTORS}{module}:make_pacs", (pacs,))}


ROUNDS: dict[str, dict[str, Expect]] = {
    "lost_replies_run": {
        "insurance": Expect(f"{CONNECTORS}double_charge_connector:make", ("结算应答丢失",)),
        "blood-center": Expect(f"{CONNECTORS}blood_center_unchecked_din:make", ("校验位错误的献血码报告为无效，不确认入库",),
                               exactly=True),
        "mch-platform": Expect(f"{CONNECTORS}mch_resend_connector:make", ("上传应答丢失后不重复上传",)),
        **hl7("hl7_ack_before_store", "医院确认前均已保存", "医院确认前均已保存"),
    },
    "missing_field_run": {
        "insurance": Expect(f"{CONNECTORS}missing_field_connector:make", said="pub_hosp_rfom_flag"),
        "blood-center": Expect(f"{CONNECTORS}blood_center_double_receipt:make",
                               ("同一张发血单不能重复入库", "重启后同一张发血单不能再入库一次"), exactly=True),
        "mch-platform": Expect(f"{CONNECTORS}mch_no_renewal_connector:make", ("会话过期后连接器重新登录并完成上传",)),
        **hl7("hl7_duplicate_stored_twice", "同一结果重复发送", "重复的报告"),
    },
    "failing_run": {
        "insurance": Expect(f"{CONNECTORS}unsigned_connector:make", said="签名校验失败"),
        "blood-center": Expect(f"{CONNECTORS}blood_center_return_unreceived:make", ("没有入库的血袋不能退血",), exactly=True),
        "mch-platform": Expect(f"{CONNECTORS}mch_no_id_check_connector:make", ("母亲身份证号校验位错误在发送前被发现",)),
        **hl7("hl7_wrong_ack_accepted", "确认的 MSA-2 不是所发的 MSH-10", "确认的 MSA-2 不符"),
    },
}


IDS = {"lost_replies_run": "lost replies, unchecked DIN, ACK before store",
       "missing_field_run": "missing field, double receipt, duplicates stored",
       "failing_run": "unsigned, return unreceived, bad ID, wrong MSA-2"}


@pytest.mark.parametrize("shared", ROUNDS, ids=IDS.__getitem__)
def test_each_defect_fails_its_scenarios_and_only_those(shared: str, request: pytest.FixtureRequest) -> None:
    expected = ROUNDS[shared]
    report_dir = request.getfixturevalue(shared)
    code, said = console_of(report_dir)
    document = json.loads((report_dir / "summary.json").read_text(encoding="utf-8"))

    assert code == 1, said
    assert "GATE CLOSED" in said and document["decision"] == "fail"
    assert set(document["interfaces"]) == set(expected)
    for interface, expect in expected.items():
        row = document["interfaces"][interface]
        mine = [s for s in document["scenarios"] if s["interface"] == interface]
        failed = [s for s in mine if s["status"] == "failed"]
        assert row["connector"] == expect.factory and failed and row["failed"] == len(failed), (interface, row)
        names = [s["name"] for s in failed]
        for part in expect.named:
            assert any(part in name and name in said for name in names), (interface, part, names)
        if expect.exactly:
            assert sorted(names) == sorted(expect.named), (interface, names)
        if expect.said:
            assert any(expect.said in s.get("message", "") for s in failed), (interface, [s.get("message") for s in failed])
        assert any(s["status"] == "passed" for s in mine), f"{interface}: the defect is specific, other scenarios pass"
    assert failed_cases(report_dir) == sum(row["failed"] for row in document["interfaces"].values())


def test_each_round_is_the_shared_run_of_its_connectors() -> None:
    assert {name: {i: e.factory for i, e in expected.items()} for name, expected in ROUNDS.items()} == DEFECT_RUNS


def failed_cases(report_dir: Path) -> int:
    root: Any = etree.parse(str(report_dir / "junit.xml")).getroot()
    return sum(1 for c in root.iter("testcase") if c.find("failure") is not None or c.find("error") is not None)
