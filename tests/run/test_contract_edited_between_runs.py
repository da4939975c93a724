"""A contract file edited between two runs: the next run's connector works from the edited contract.

A run's pytest session holds the contracts it loaded (its connectors get them unread, `harness.contract.loader.hold`);
this holds the other side of that: the hold ends with the session, and a run started after an edit reads the edit.
Two real runs (their own pytest processes) over one contracts folder, the ID-card certificate type removed from the
contract's code table between them: the connector then refuses to send a lookup by ID card.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from rich.console import Console

from harness.config import CONFIG_ENV
from harness.run.options import RunOptions
from harness.run.runner import run
from tests.conftest import CONTRACTS, DATA, edit


@pytest.fixture(autouse=True)
def no_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    monkeypatch.chdir(tmp_path)


def statuses(root: Path, report: Path) -> tuple[int, dict[str, str], str]:
    console = Console(file=io.StringIO(), width=100, color_system=None)
    code = run(RunOptions(features_dir=DATA / "features", contracts_dir=root, report_dir=report, signoff_pdf=False,
                          contracts={"insurance": "2024.1"}, tags="@tiny"), console)
    document = json.loads((report / "summary.json").read_text(encoding="utf-8"))
    return code, {s["name"]: s["status"] for s in document["scenarios"]}, console.file.getvalue()  # type: ignore[attr-defined]


def test_the_run_after_an_edit_uses_the_edited_contract(tmp_path: Path) -> None:
    root = tmp_path / "contracts"
    shutil.copytree(CONTRACTS / "insurance" / "2024.1", root / "insurance" / "2024.1")
    by_id_card = "The employee is found by ID card"

    code, before, log = statuses(root, tmp_path / "before")
    assert code == 0, log
    assert before[by_id_card] == "passed"

    edit(root / "insurance" / "2024.1" / "contract.yaml", '"02": 居民身份证号, ', "")
    code, after, log = statuses(root, tmp_path / "after")

    assert code == 1, log
    assert after[by_id_card] == "failed"
    assert after["A social security card without card_sn is refused on 2024.1"] == "passed"
