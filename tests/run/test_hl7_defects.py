"""Planted LIS/PACS connector defects close the gate of `hih run` and are named: an ACK sent before the result
is stored, a duplicate stored twice, an ACK with a wrong MSA-2 accepted. Each run starts pytest-bdd in a child
process over the project's lis and pacs features."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.run.test_runner import gate

DEFECTS = "tests.data.connectors."


@pytest.mark.parametrize(("module", "named"), [
    ("hl7_ack_before_store", {"lis": "医院确认前均已保存", "pacs": "医院确认前均已保存"}),
    ("hl7_duplicate_stored_twice", {"lis": "同一结果重复发送", "pacs": "重复的报告"}),
    ("hl7_wrong_ack_accepted", {"lis": "确认的 MSA-2 不是所发的 MSH-10", "pacs": "确认的 MSA-2 不符"}),
])
def test_planted_hl7_defects_close_the_gate(tmp_path: Path, module: str, named: dict[str, str]) -> None:
    connectors = {"lis": f"{DEFECTS}{module}:make_lis", "pacs": f"{DEFECTS}{module}:make_pacs"}
    code, document, printed = gate(tmp_path, features_dir=ROOT / "features", interfaces=["lis", "pacs"],
                                   connectors=connectors)

    assert code == 1, printed
    assert "GATE CLOSED" in printed
    for interface, words in named.items():
        row = document["interfaces"][interface]
        assert row["connector"] == connectors[interface] and row["failed"] > 0, row
        failed = [s for s in document["scenarios"] if s["interface"] == interface and s["status"] == "failed"]
        assert any(words in s["name"] for s in failed), [s["name"] for s in failed]
        assert any(words in s["name"] and s["name"] in printed for s in failed)
        passed = [s for s in document["scenarios"] if s["interface"] == interface and s["status"] == "passed"]
        assert passed, "the defect is specific: scenarios that do not touch it still pass"
