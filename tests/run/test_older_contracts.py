"""The scenarios written for older contract versions run in the suite: insurance and the LIS on their 2023.1
contracts (with the maternal-child platform's 2024.1 in the suite's shared run of the older versions,
tests/full_runs.py; test_mch_platform_gate.py reads that), and insurance on 2024.1 in a run of its own. Each run
starts pytest-bdd in a child process."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import ROOT
from tests.full_runs import OLDER, console_of
from tests.run.test_runner import gate


def test_the_older_contracts_open_the_gate_and_their_own_scenarios_pass(older_run: Path) -> None:
    code, printed = console_of(older_run)
    document = json.loads((older_run / "summary.json").read_text(encoding="utf-8"))

    assert code == 0, printed
    assert {name: row["contract"] for name, row in document["interfaces"].items()} == OLDER
    for name in ("insurance", "lis"):
        row = document["interfaces"][name]
        assert row["contract"] == "2023.1" and row["failed"] == 0 and row["passed"] > 30, row
    mine = [s for s in document["scenarios"] if s["interface"] in ("insurance", "lis")]
    older = [s for s in mine if s["name"].startswith("2023.1") or "（2023.1" in s["name"]]
    assert sorted((s["interface"], s["status"]) for s in older) == [("insurance", "passed")] * 4 + [("lis", "passed")] * 2
    newer = [s for s in mine if s["name"].startswith("2024.1")]
    assert newer and all(s["status"] == "skipped" for s in newer), newer


def test_insurance_2024_1_the_policy_before_the_a_transactions_still_opens_the_gate(tmp_path: Path) -> None:
    code, document, printed = gate(tmp_path, features_dir=ROOT / "features", interfaces=["insurance"],
                                   contracts={"insurance": "2024.1"})

    assert code == 0, printed
    row = document["interfaces"]["insurance"]
    assert row["contract"] == "2024.1" and row["failed"] == 0 and row["passed"] > 60, row
    older = [s for s in document["scenarios"] if s["name"].startswith("2023.1") or "（2023.1" in s["name"]]
    assert older and all(s["status"] == "skipped" for s in older), older
