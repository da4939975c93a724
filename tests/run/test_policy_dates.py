"""Policy dates: next year's contract committed today does not become the default before it is in force.

A contracts folder under tmp_path holds insurance 2023.1 and 2024.1 (the shipped ones) and a draft 2027.1 (a copy of
2024.1, `released` 2026-12-01, `effective` 2027-07-01). The default version is the newest in force on the run's
day; `--as-of` rehearses a later day; a version not yet in force runs only when named (`--contract` or a pin in
hih.toml), with a note.
"""

from __future__ import annotations

import io
import json
import shutil
from datetime import date
from pathlib import Path

import pytest
from rich.console import Console

from harness.cli import main
from harness.config import CONFIG_ENV
from harness.contract.loader import ContractStore
from harness.errors import UsageError
from harness.run.options import RunOptions, plan
from harness.run.runner import run
from tests.conftest import CONTRACTS, DATA, edit

FEATURES = DATA / "features"
TODAY = date(2026, 11, 22)


@pytest.fixture
def contracts(tmp_path: Path) -> Path:
    root = tmp_path / "contracts"
    for version in ("2023.1", "2024.1"):
        shutil.copytree(CONTRACTS / "insurance" / version, root / "insurance" / version)
    draft = root / "insurance" / "2027.1"
    shutil.copytree(CONTRACTS / "insurance" / "2024.1", draft)
    edit(draft / "contract.yaml", 'version: "2024.1"', 'version: "2027.1"')
    edit(draft / "contract.yaml", 'released: "2024-03-01"', 'released: "2026-12-01"')
    edit(draft / "contract.yaml", 'effective: "2024-03-01"', 'effective: "2027-07-01"')
    edit(draft / "contract.yaml", 'supersedes: "2023.1"', 'supersedes: "2024.1"')
    return root


@pytest.fixture(autouse=True)
def no_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    monkeypatch.chdir(tmp_path)


def options(root: Path, **kwargs: object) -> RunOptions:
    return RunOptions(features_dir=FEATURES, contracts_dir=root, report_dir=root.parent / "reports",
                      signoff_pdf=False, **kwargs)  # type: ignore[arg-type]


def test_the_store_defaults_to_the_newest_version_in_force(contracts: Path) -> None:
    store = ContractStore(contracts, as_of=TODAY)
    assert store.versions("insurance") == ["2023.1", "2024.1", "2027.1"]
    assert store.newest("insurance") == "2027.1"
    assert store.in_force("insurance") == "2024.1" and store.default("insurance") == "2024.1"
    assert store.load("insurance").version == "2024.1"
    assert store.in_force("insurance", date(2027, 7, 1)) == "2027.1"
    assert store.in_force("insurance", date(2022, 1, 1)) is None
    with pytest.raises(UsageError, match=r"^no contract version of insurance is in force on 2022-01-01 \(upcoming: "
                                         r"2023\.1 from 2023-01-01, 2024\.1 from 2024-03-01, 2027\.1 from 2027-07-01\)"):
        store.default("insurance", date(2022, 1, 1))


def test_a_draft_runs_only_when_named_or_rehearsed(contracts: Path) -> None:
    today = plan(options(contracts, as_of=TODAY))
    assert today.contracts["insurance"].version == "2024.1" and today.effective == {"insurance": "2024-03-01"}
    assert today.notes == []

    rehearsal = plan(options(contracts, as_of=date(2027, 7, 1)))
    assert rehearsal.contracts["insurance"].version == "2027.1" and rehearsal.effective == {"insurance": "2027-07-01"}

    named = plan(options(contracts, as_of=TODAY, contracts={"insurance": "2027.1"}))
    assert named.contracts["insurance"].version == "2027.1"
    assert named.notes == ["note: insurance 2027.1 is not in force until 2027-07-01 (named by --contract)"]


def test_hih_toml_pins_a_version_and_the_flag_wins(contracts: Path, tmp_path: Path) -> None:
    (tmp_path / "hih.toml").write_text('[contracts]\ninsurance = "2023.1"\n', encoding="utf-8")
    assert plan(options(contracts, as_of=TODAY)).contracts["insurance"].version == "2023.1"
    assert plan(options(contracts, as_of=TODAY, contracts={"insurance": "2024.1"})).contracts["insurance"].version == "2024.1"

    (tmp_path / "hih.toml").write_text('[contracts]\ninsurance = "2099.1"\n', encoding="utf-8")
    with pytest.raises(UsageError, match=r"^hih.toml \[contracts\] insurance=2099.1: unknown version \(known: 2023.1, "
                                         r"2024.1, 2027.1\)$"):
        plan(options(contracts, as_of=TODAY))
    (tmp_path / "hih.toml").write_text('[contracts]\ninsurence = "2023.1"\n', encoding="utf-8")
    with pytest.raises(UsageError, match=r"hih.toml \[contracts\] names unknown interface 'insurence'"):
        plan(options(contracts, as_of=TODAY))


def test_an_interface_with_nothing_in_force_is_left_out_unless_asked_for(contracts: Path) -> None:
    early = date(2022, 6, 1)
    with pytest.raises(UsageError, match=r"^nothing to run: no selected interface has a contract version in force on 2022-06-01$"):
        plan(options(contracts, as_of=early))
    with pytest.raises(UsageError, match=r"^no contract version of insurance is in force on 2022-06-01"):
        plan(options(contracts, as_of=early, interfaces=["insurance"]))


def test_a_run_as_of_a_later_day_uses_and_reports_the_draft(contracts: Path) -> None:
    console = Console(file=io.StringIO(), width=100, color_system=None)
    code = run(options(contracts, as_of=date(2027, 7, 1), tags="@tiny"), console)
    document = json.loads((contracts.parent / "reports" / "summary.json").read_text(encoding="utf-8"))

    assert code == 0, console.file.getvalue()  # type: ignore[attr-defined]
    assert document["as_of"] == "2027-07-01"
    assert document["interfaces"]["insurance"]["contract"] == "2027.1"
    assert document["interfaces"]["insurance"]["contract_effective"] == "2027-07-01"


def test_the_cli_takes_as_of_and_contract_list_shows_the_draft_as_upcoming(
        contracts: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["contract", "list", "--contracts-dir", str(contracts), "--as-of", "2026-11-22"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2:] == ["    2023.1     superseded (in force from 2023-01-01)",
                         "    2024.1     in force since 2024-03-01 (default)",
                         "    2027.1     upcoming: in force from 2027-07-01"]
    assert main(["contract", "list", "--contracts-dir", str(contracts), "--as-of", "2027-07-01"]) == 0
    assert "    2027.1     in force since 2027-07-01 (default)" in capsys.readouterr().out
