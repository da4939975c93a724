"""The scenarios written for older contract versions run in the suite: insurance and the LIS on their 2023.1
contracts in one `hih run` (the maternal-child platform's 2024.1 runs in test_mch_platform_gate.py). Each run starts
pytest-bdd in a child process."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import ROOT
from tests.run.test_runner import gate


def test_the_older_contracts_open_the_gate_and_their_own_scenarios_pass(tmp_path: Path) -> None:
    code, document, printed = gate(tmp_path, features_dir=ROOT / "features", interfaces=["insurance", "lis"],
                                   contracts={"insurance": "2023.1", "lis": "2023.1"})

    assert code == 0, printed
    for name in ("insurance", "lis"):
        row = document["interfaces"][name]
        assert row["contract"] == "2023.1" and row["failed"] == 0 and row["passed"] > 30, row
    older = [s for s in document["scenarios"] if s["name"].startswith("2023.1") or "（2023.1" in s["name"]]
    assert sorted((s["interface"], s["status"]) for s in older) == [("insurance", "passed")] * 4 + [("lis", "passed")] * 2
    newer = [s for s in document["scenarios"] if s["name"].startswith("2024.1")]
    assert newer and all(s["status"] == "skipped" for s in newer), newer


def test_insurance_2024_1_the_policy_before_the_a_transactions_still_opens_the_gate(tmp_path: Path) -> None:
    code, document, printed = gate(tmp_path, features_dir=ROOT / "features", interfaces=["insurance"],
                                   contracts={"insurance": "2024.1"})

    assert code == 0, printed
    row = document["interfaces"]["insurance"]
    assert row["contract"] == "2024.1" and row["failed"] == 0 and row["passed"] > 60, row
    older = [s for s in document["scenarios"] if s["name"].startswith("2023.1") or "（2023.1" in s["name"]]
    assert older and all(s["status"] == "skipped" for s in older), older
