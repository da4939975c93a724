"""Contract checks that passed are remembered (harness.contract.verdicts): a contract whose files passed before
loads without the JSON Schema stack, and a broken or edited one is checked in full and refused as without the cache."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest

from harness.contract import json_schemas, loader, verdicts
from harness.contract.errors import ContractError
from harness.contract.loader import load_contract
from tests.conftest import edit
from tests.parse_cache_dirs import entries, own_cache

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return own_cache(tmp_path, monkeypatch)


def fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forget the contracts this process loaded (as a new process would)."""
    monkeypatch.setattr(loader, "_LOADED", {})


def refusal(folder: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    fresh(monkeypatch)
    with pytest.raises(ContractError) as caught:
        load_contract(folder)
    return [str(p) for p in caught.value.problems]


def test_a_contract_that_passed_loads_the_same_without_being_checked_again(
        cache_dir: Path, contract_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    checked = load_contract(contract_copy)
    assert entries(cache_dir)
    fresh(monkeypatch)
    monkeypatch.setattr(json_schemas, "check_schema", lambda _: pytest.fail("a schema was checked again"))
    monkeypatch.setattr(loader, "_meta_validator", lambda _: pytest.fail("contract.yaml was checked again"))
    monkeypatch.setattr(json_schemas.SchemaSet, "_check_refs", lambda _: pytest.fail("the $refs were checked again"))

    remembered = load_contract(contract_copy)

    assert remembered is not checked
    assert remembered.schemas == checked.schemas and list(remembered.operations) == list(checked.operations)
    assert remembered.code_tables == checked.code_tables


def _bad_keyword(folder: Path) -> None:
    schema = folder / "schemas" / "9001-input.json"
    document = json.loads(schema.read_text(encoding="utf-8"))
    document["properties"]["signIn"]["properties"]["ip"]["type"] = 12
    schema.write_text(json.dumps(document, ensure_ascii=False, indent=2), encoding="utf-8")


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


BREAKAGES: dict[str, Callable[[Path], None]] = {
    "schema keyword": _bad_keyword,
    "unknown $ref": lambda f: edit(f / "schemas" / "9001-output.json", "common.json#/$defs/datetime",
                                   "common.json#/$defs/timestamp"),
    "code table gone": lambda f: edit(f / "contract.yaml", '  psn_setlway:\n    title: 个人结算方式\n    values: '
                                      '{"01": 按项目结算, "02": 按定额结算}\n', ""),
    "meta-schema": lambda f: edit(f / "contract.yaml", '    kind: query\n    idempotent: true\n    requires_sign_no: '
                                  'true\n  "2201":', '    kind: lookup\n    idempotent: true\n    requires_sign_no: '
                                  'true\n  "2201":'),
    "new schema file": lambda f: _write(f / "schemas" / "extra.json", '{"$ref": "nowhere.json"}'),
}


@pytest.mark.parametrize("breakage", list(BREAKAGES))
def test_a_file_edited_after_its_contract_passed_is_checked_again_and_refused_as_without_the_cache(
        cache_dir: Path, contract_copy: Path, monkeypatch: pytest.MonkeyPatch, breakage: str) -> None:
    load_contract(contract_copy)
    BREAKAGES[breakage](contract_copy)

    with_cache = refusal(contract_copy, monkeypatch)
    again = refusal(contract_copy, monkeypatch)
    monkeypatch.setenv("HIH_CACHE_DIR", "off")
    without = refusal(contract_copy, monkeypatch)

    assert with_cache == again == without  # refused again from the same cache: a failure is never remembered


def test_a_damaged_verdict_means_the_check_runs(cache_dir: Path, contract_copy: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    load_contract(contract_copy)
    verdicts = [p for p in entries(cache_dir) if p.read_bytes() == b"T"]  # marshal of True
    assert len(verdicts) == 3  # contract.yaml against two meta-schemas, and the schema set
    for path in verdicts:
        path.write_bytes(b"\x00")
    fresh(monkeypatch)
    calls: list[str] = []
    check = json_schemas.check_schema

    def counted(document: dict[str, Any]) -> None:
        calls.append("checked")
        check(document)

    monkeypatch.setattr(json_schemas, "check_schema", counted)

    assert load_contract(contract_copy).operations
    assert calls


@pytest.mark.parametrize("breakage", ["schema keyword", "meta-schema", "unknown $ref"])
def test_a_folder_vouched_for_is_taken_as_passed_and_no_other(cache_dir: Path, contract_copy: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch, breakage: str) -> None:
    """A run's pytest process (`--hih-contracts-checked`): its `hih run` checks the contract and stops the run when the
    check fails, so the process takes that folder's checks as passed, even on a cold cache, and remembers nothing;
    another folder with the same files is checked as ever."""
    BREAKAGES[breakage](contract_copy)  # a fault only the checks find
    other = tmp_path / "other" / "2024.1"
    shutil.copytree(contract_copy, other)
    monkeypatch.setattr(verdicts, "_VOUCHED", set())

    verdicts.vouch(contract_copy)
    fresh(monkeypatch)
    taken = load_contract(contract_copy)

    assert taken.operations
    assert [p for p in entries(cache_dir) if p.read_bytes() == b"T"] == [], "no pass remembered (marshal of True)"
    assert verdicts.vouched(contract_copy / "schemas" / "9001-input.json")
    assert not verdicts.vouched(contract_copy.parent) and not verdicts.vouched(other)
    assert refusal(other, monkeypatch), "the same files in a folder nobody vouched for"
    monkeypatch.setattr(verdicts, "_VOUCHED", set())
    assert refusal(contract_copy, monkeypatch), "checked again once nobody vouches for it"


class RunOptions:
    """The options a run gives its pytest process, as `pytest.Config.getoption` answers them."""

    def __init__(self, contracts_dir: Path, checked: bool) -> None:
        self.options: dict[str, object] = {
            "--hih-contracts-dir": str(contracts_dir), "--hih-contract": ["insurance=2024.1"], "--hih-connector": [],
            "--hih-timeout": 0.3, "--hih-contracts-checked": checked}

    def getoption(self, name: str) -> object:
        return self.options[name]


@pytest.mark.parametrize("checked", [True, False])
def test_a_runs_pytest_process_told_the_run_checks_takes_its_contracts_as_passed(
        cache_dir: Path, contract_copy: Path, monkeypatch: pytest.MonkeyPatch, checked: bool) -> None:
    from harness.plugin import HihSession

    _bad_keyword(contract_copy)  # what only the check finds, so whether it ran shows
    monkeypatch.setattr(verdicts, "_VOUCHED", set())
    fresh(monkeypatch)
    session = HihSession(cast(pytest.Config, RunOptions(contract_copy.parent.parent, checked)))

    if checked:
        assert session.contract("insurance").operations
    else:
        with pytest.raises(ContractError):
            session.contract("insurance")


CHILD = """
import json, sys
from pathlib import Path
from harness.contract.loader import load_contract
contract = load_contract(Path(sys.argv[1]))
loaded = sorted(m for m in ("jsonschema", "referencing", "attrs") if m in sys.modules)
findings = contract.extra["schema_set"].validate({"infno": 1101}, contract.envelope["request"])
print(json.dumps({"loaded": loaded, "findings": [(f.location, f.message, f.rule) for f in findings]}))
"""


def child(folder: Path, cache: str) -> dict[str, list[object]]:
    env = {**os.environ, "HIH_CACHE_DIR": cache, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", CHILD, str(folder)], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=120, check=True)
    result: dict[str, list[object]] = json.loads(done.stdout)
    return result


def test_a_process_finding_the_contract_passed_imports_no_json_schema_stack_until_a_message_breaks_it(
        cache_dir: Path, contract_copy: Path) -> None:
    cold = child(contract_copy, str(cache_dir))
    warm = child(contract_copy, str(cache_dir))
    off = child(contract_copy, "off")

    assert cold["loaded"] == off["loaded"] == ["attrs", "jsonschema", "referencing"]
    assert warm["loaded"] == []
    assert warm["findings"] == cold["findings"] == off["findings"]
    assert warm["findings"], "an envelope with only infno breaks the contract"
