"""`hih run --interface blood-center`: the reference connector opens the gate; each planted defect (an unchecked
DIN, a double receipt, a return without receipt) closes it and the failing scenario is named."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from harness.run.options import RunOptions
from harness.run.runner import run
from mocks.blood_center.service import TEST_TOKEN
from tests.conftest import ROOT


def gate(tmp_path: Path, **options: Any) -> tuple[int, dict[str, Any], str]:
    console = Console(file=io.StringIO(), width=200, color_system=None)
    report_dir = tmp_path / "reports"
    code = run(RunOptions(features_dir=ROOT / "features", report_dir=report_dir, interfaces=["blood-center"], **options),
               console)
    printed = console.file.getvalue()  # type: ignore[attr-defined]
    return code, json.loads((report_dir / "summary.json").read_text(encoding="utf-8")), printed


def test_the_reference_connector_opens_the_gate(parallel_run: Path) -> None:
    document = json.loads((parallel_run / "summary.json").read_text(encoding="utf-8"))

    assert document["decision"] == "pass"
    row = document["interfaces"]["blood-center"]
    assert (row["contract"], row["connector"]) == ("2025.1", "connectors.blood_center:reference")
    assert row["failed"] == 0 and row["skipped"] == 0 and row["passed"] >= 25
    assert len([s for s in document["scenarios"] if s["interface"] == "blood-center"]) == row["passed"]
    for name in ("evidence.json", "report.html", "junit.xml"):
        text = (parallel_run / name).read_text(encoding="utf-8")
        assert "PatientName" in text or name != "evidence.json", "the cross-match answers are in the evidence"
        for secret in ("张秀英", "ZY2025000123", TEST_TOKEN):
            assert secret not in text, f"{secret!r} shows in {name}"


@pytest.mark.parametrize(("defect", "named"), [
    ("blood_center_unchecked_din", ["校验位错误的献血码报告为无效，不确认入库"]),
    ("blood_center_double_receipt", ["同一张发血单不能重复入库", "重启后同一张发血单不能再入库一次"]),
    ("blood_center_return_unreceived", ["没有入库的血袋不能退血"]),
])
def test_a_planted_defect_closes_the_gate_naming_its_scenario(tmp_path: Path, defect: str, named: list[str]) -> None:
    connector = f"tests.data.connectors.{defect}:make"
    code, document, printed = gate(tmp_path, connectors={"blood-center": connector})

    assert code == 1, printed
    failed = [s["name"] for s in document["scenarios"] if s["status"] == "failed"]
    assert sorted(failed) == sorted(named), failed
    assert all(name in printed for name in named) and "GATE CLOSED" in printed
    assert document["interfaces"]["blood-center"]["passed"] > 0
