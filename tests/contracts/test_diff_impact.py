"""Which scenarios a contract change touches (step text, run history), and `hih run --changed-since` end to end."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from harness.cli import main
from harness.contract.diff import Change, Classification, ContractDiff, Target, diff_contracts
from harness.contract.diff_impact import History, Recorded, impact, mentions, scan_features
from harness.contract.model import Contract
from harness.errors import UsageError
from harness.run import history
from harness.run.child import Files, pytest_command
from harness.run.options import RunOptions, plan
from harness.run.runner import run
from tests.conftest import ROOT

FEATURES = ROOT / "features"
INSURANCE = FEATURES / "insurance"
OPS = ["9001", "9002", "1101", "2201", "2202", "2203", "2204", "2205", "2206", "2207", "2208", "2601"]


@pytest.fixture(scope="module")
def scanned() -> dict[str, Any]:
    return {sc.name: sc for sc in scan_features(INSURANCE, "insurance", OPS)}


def one_change(target: Target, classification: Classification = Classification.BREAKING) -> ContractDiff:
    change = Change(classification, "required-added", "2207 input /data/x", "x now required", "2207", "input",
                    "/data/x", "request", targets=(target,))
    return ContractDiff("insurance", "http-json", "2024.1", "2024.2", [change])


# -- the static scan ----------------------------------------------------------------------------------------------
def test_the_scan_renders_outlines_and_knows_the_steps_transactions(scanned: dict[str, Any]) -> None:
    assert len(scanned) == 80
    policy = scanned["2024.1 起社会保障卡未带卡识别码时，连接器在发送 2207 前拒绝"]
    assert policy.feature == "政策版本" and policy.file.name == "policy_versions.feature"
    assert policy.template == "2024.1 起社会保障卡未带卡识别码时，连接器在发送 <交易> 前拒绝"
    assert policy.example == (("交易", "2207"),)
    assert {"9001", "1101", "2201", "2204", "2207"} <= policy.operations  # background, example and implied sign-in
    assert "2208" not in policy.operations and mentions(policy.text, "card_sn")
    full = scanned["职工持身份证号完成一次完整的门诊结算"]
    assert full.operations >= {"9001", "9002", "1101", "2201", "2203", "2204", "2206", "2207"}
    cancel = scanned["撤销尚未收费的门诊挂号"]
    assert "2202" in cancel.operations and "2207" not in cancel.operations
    assert policy.selector() == {"file": str(policy.file), "scenario": policy.template, "example": {"交易": "2207"}}


def test_mentions_is_a_whole_word_match() -> None:
    assert mentions('"1101" 请求的 "input.data.card_sn" 为', "card_sn")
    assert not mentions("card_sn_extra", "card_sn") and not mentions("xcard_sn", "card_sn")


def test_operation_and_field_targets(scanned: dict[str, Any]) -> None:
    everywhere = impact(one_change(Target("2207", "request", "/input/data/x", "operation")), INSURANCE, OPS)
    names = {hit.scenario.name for hit in everywhere.hits[0]}
    assert "2024.1 起门诊结算携带公立医院改革标志" in names and "撤销尚未收费的门诊挂号" not in names
    named = impact(one_change(Target("1101", "request", "/input/data/card_sn", "field")), INSURANCE, OPS)
    names = {hit.scenario.name for hit in named.hits[0]}
    assert "以社会保障卡（含卡识别码）查询参保人信息" in names
    assert "以居民身份证号查询参保人信息" not in names  # performs 1101 but never names card_sn
    assert named.method()["methods"] == ["static"]


def test_info_changes_have_no_impact() -> None:
    found = impact(one_change(Target("2207"), Classification.INFO), INSURANCE, OPS)
    assert found.hits == [[]] and found.impacted() == []


# -- the run history ----------------------------------------------------------------------------------------------
def test_the_history_finds_fields_the_step_text_never_names(tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite"
    request = {"infno": "1101", "input": {"data": {"mdtrt_cert_type": "02", "card_sn": "X"}}}
    summary = {"decision": "pass", "started": "2026-01-01T00:00:00+08:00", "totals": {"passed": 1},
               "interfaces": {"insurance": {"contract": "2024.1", "connector": "c:f", "passed": 1}},
               "scenarios": [{"interface": "insurance", "feature": "门诊结算流程", "name": "以居民身份证号查询参保人信息",
                              "status": "passed", "nodeid": "features/insurance/test_insurance.py::test_x[b]"}]}
    evidence = {"features/insurance/test_insurance.py::test_x[b]": [
        {"operation": "9001", "request": {"infno": "9001"}, "response": {"infcode": 0}},
        {"operation": "1101", "request": request, "response": {"infcode": 0, "output": {"baseinfo": {}}}}]}
    history.record(db, summary, evidence)
    recorded = history.recorded(db, "insurance")
    assert [r.name for r in recorded.records] == ["以居民身份证号查询参保人信息"]

    found = impact(one_change(Target("1101", "request", "/input/data/card_sn", "field")), INSURANCE, OPS, recorded)
    hit = next(h for h in found.hits[0] if h.scenario.name == "以居民身份证号查询参保人信息")
    assert hit.via == ["history"] and hit.nodeids == ["features/insurance/test_insurance.py::test_x[b]"]
    assert hit.reasons == ["journal: 1101 request carried /input/data/card_sn (run 1)"]
    assert found.method()["methods"] == ["history", "static"]
    response = impact(one_change(Target("1101", "response", "/output/baseinfo", "field")), INSURANCE, OPS, recorded)
    assert [h.scenario.name for h in response.hits[0]] == ["以居民身份证号查询参保人信息"]


def test_a_history_that_cannot_be_read_is_reported_not_raised(tmp_path: Path) -> None:
    (tmp_path / "bad.sqlite").write_text("not a database")
    broken = history.recorded(tmp_path / "bad.sqlite", "insurance")
    assert broken.records == [] and "unreadable" in broken.problem
    assert "no run history" in history.recorded(tmp_path / "none.sqlite", "insurance").problem
    found = impact(one_change(Target("2207")), INSURANCE, OPS, broken)
    assert found.method()["methods"] == ["static"] and found.method()["history"]["problem"] == broken.problem


def test_recorded_history_joins_by_feature_and_name() -> None:
    record = Recorded("n", "政策版本", "2024.1 起门诊结算携带公立医院改革标志", 7, "2024.1",
                      {"2207": {"request": {"/input/data/x"}, "response": set()}})
    found = impact(one_change(Target("2207", "request", "/input/data/x", "field")), INSURANCE, OPS,
                   History("db", [record]))
    hit = next(h for h in found.hits[0] if h.scenario.name == record.name)
    assert hit.via == ["history"] and hit.reasons == ["journal: 2207 request carried /input/data/x (run 7)"]


# -- hih run --changed-since --------------------------------------------------------------------------------------
def test_unknown_or_misused_changed_since_versions_are_usage_errors() -> None:
    with pytest.raises(UsageError, match=r"^--changed-since 1999\.9: no selected interface has that version \(known: .*insurance 2023\.1, 2024\.1"):
        plan(RunOptions(changed_since=["1999.9"]))
    with pytest.raises(UsageError, match=r"^--changed-since 1999\.9: no selected interface has that version \(known: insurance 2023\.1, 2024\.1, 2025\.1\)$"):
        plan(RunOptions(interfaces=["insurance"], changed_since=["1999.9"]))
    with pytest.raises(UsageError, match=r"^--changed-since 1999\.9: unknown version of insurance \(known: 2023\.1, 2024\.1, 2025\.1\)$"):
        plan(RunOptions(changed_since=["insurance=1999.9"]))
    with pytest.raises(UsageError, match="give one VERSION for every interface, or NAME=VERSION"):
        plan(RunOptions(changed_since=["2023.1", "insurance=2023.1"]))
    with pytest.raises(UsageError, match="--changed-since names unknown interface 'lab'"):
        plan(RunOptions(interfaces=["insurance"], changed_since=["lab=2023.1"]))
    assert plan(RunOptions(changed_since=["insurance=2023.1"])).changed_since == {"insurance": "2023.1"}
    assert plan(RunOptions(interfaces=["insurance"], changed_since=["2023.1"])).changed_since == {"insurance": "2023.1"}


def test_a_bare_changed_since_needs_exactly_one_selected_interface_with_that_version() -> None:
    """insurance and lis both have a 2023.1: a bare 2023.1 could mean either, so it is refused; selecting one of them
    (a CI shard) or naming the interface makes it clear. Only blood-center and mch-platform have 2025.1."""
    with pytest.raises(UsageError, match=r"^--changed-since 2023\.1: several selected interfaces have that version "
                                         r"\(insurance, lis\); write NAME=2023\.1$"):
        plan(RunOptions(changed_since=["2023.1"]))
    assert plan(RunOptions(interfaces=["lis"], changed_since=["2023.1"])).changed_since == {"lis": "2023.1"}
    with pytest.raises(UsageError, match="several selected interfaces have that version"):
        plan(RunOptions(interfaces=["mch-platform", "pacs"], changed_since=["2024.1"]))
    one = plan(RunOptions(interfaces=["insurance", "blood-center"], changed_since=["2023.1"]))
    assert one.changed_since == {"insurance": "2023.1"} and list(one.contracts) == ["insurance", "blood-center"]


def test_changed_since_for_an_interface_not_selected_is_ignored_with_a_note() -> None:
    """One HIH_RUN_ARGS for every CI shard: the lis shard ignores `--changed-since insurance=2023.1`."""
    shard = plan(RunOptions(interfaces=["lis"], changed_since=["insurance=2023.1"]))
    assert shard.changed_since == {} and list(shard.contracts) == ["lis"]
    assert shard.notes == ["note: not selected in this run, so ignored: --changed-since insurance"]


def test_the_cli_maps_an_unknown_old_version_to_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--interface", "insurance", "--changed-since", "2022.9"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hih: error: --changed-since 2022.9: no selected interface has that version (known: ")
    assert err.count("\n") == 1 and "insurance 2023.1, 2024.1" in err


def test_the_selection_reaches_the_pytest_child(tmp_path: Path) -> None:
    p = plan(RunOptions(interfaces=["insurance"], changed_since=["2023.1"]))
    files = Files.in_folder(tmp_path)
    command = pytest_command(p, files, tmp_path / "deadline.jsonl", select=tmp_path / "selection.json")
    assert command[command.index("--hih-select") - 2:command.index("--hih-select") + 2] == [
        "-p", "harness.run.selection", "--hih-select", str(tmp_path / "selection.json")]
    assert "--hih-select" not in pytest_command(p, files, tmp_path / "deadline.jsonl")


def _gate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **options: Any) -> tuple[int, str]:
    monkeypatch.setenv("HIH_HISTORY", str(tmp_path / "history.sqlite"))
    console = Console(file=io.StringIO(), width=300, color_system=None)
    code = run(RunOptions(features_dir=FEATURES, report_dir=tmp_path / "reports", signoff_pdf=False, **options), console)
    return code, console.file.getvalue()  # type: ignore[attr-defined]


def test_nothing_impacted_runs_nothing_and_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, printed = _gate(tmp_path, monkeypatch, interfaces=["insurance"], changed_since=["2024.1"],
                          contracts={"insurance": "2024.1"})
    assert code == 0
    assert "changed since: insurance 2024.1 → 2024.1: 0 breaking, 0 compatible, 0 info change(s)" in printed
    assert "no scenario exercises the changed parts" in printed
    assert not (tmp_path / "reports" / "summary.json").exists() and not (tmp_path / "history.sqlite").exists()


def test_changed_since_2023_runs_only_the_card_sn_and_settlement_scenarios(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, contract_2023: Contract, contract_2024: Contract) -> None:
    expected = impact(diff_contracts(contract_2023, contract_2024), INSURANCE, OPS).impacted()
    expected_names = {sc.name for sc, _, _ in expected}

    code, printed = _gate(tmp_path, monkeypatch, interfaces=["insurance"], changed_since=["2023.1"],
                          contracts={"insurance": "2024.1"})

    assert code == 0, printed
    assert "changed since: insurance 2023.1 → 2024.1: 5 breaking, 0 compatible, 12 info change(s)" in printed
    assert f"selected {len(expected)} of 80 scenarios:" in printed
    assert "2024.1 起门诊结算携带公立医院改革标志 — 2207 input /data/pub_hosp_rfom_flag (static)" in printed
    summary = json.loads((tmp_path / "reports" / "summary.json").read_text(encoding="utf-8"))
    ran = {s["name"] for s in summary["scenarios"]}
    # what ran is what was selected (skipped 2023.1-only outlines are reported under their template name)
    assert len(summary["scenarios"]) == len(expected) < 80
    assert ran - expected_names == {"2023.1 接受未带卡识别码的社会保障卡办理 <交易>"}
    assert {"2024.1 起门诊结算携带公立医院改革标志", "社会保障卡带卡识别码时 2201 在各版本都被接受",
            "2024.1 起社会保障卡未带卡识别码时，连接器在发送 1101 前拒绝", "持社会保障卡完成结算，每笔凭证交易都携带卡识别码",
            "职工持身份证号完成一次完整的门诊结算"} <= ran
    assert not ran & {"撤销尚未收费的门诊挂号", "以居民身份证号查询参保人信息", "签退后再办理业务，连接器先重新签到"}
    assert all(s["feature"] == "政策版本" for s in summary["scenarios"] if s["status"] == "skipped")
    assert summary["selection"] == {"changed_since": {"insurance": "2023.1"}, "new": {"insurance": "2024.1"},
                                    "selected": len(expected), "of": 80, "methods": {"insurance": ["static"]}}
    recorded = history.query(tmp_path / "history.sqlite")
    assert recorded["interfaces"]["insurance"]["runs"][0]["selection"]["selected"] == len(expected)
