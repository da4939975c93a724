"""`hih contract diff` on the insurance contracts: the exact breaking list of 2023.1 → 2024.1, the JSON document's
shape and the exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.contract.diff import Classification, diff_contracts
from harness.contract.loader import ContractStore
from harness.contract.model import Contract

CARD_SN = 'card_sn now required (minLength 1) when mdtrt_cert_type is "03"'


@pytest.fixture(autouse=True)
def _no_history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Impact from the feature files only, and never the repository's reports/."""
    monkeypatch.setenv("HIH_HISTORY", str(tmp_path / "none.sqlite"))


def test_2023_to_2024_lists_exactly_the_card_sn_and_pub_hosp_rfom_flag_requirements(
        contract_2023: Contract, contract_2024: Contract) -> None:
    diff = diff_contracts(contract_2023, contract_2024)

    assert diff.breaking
    breaking = [(c.location, c.category, c.side) for c in diff.of(Classification.BREAKING)]
    assert breaking == [
        ("1101 input /data/card_sn", "required-added", "request"),
        ("2201 input /data/card_sn", "required-added", "request"),
        ("2206 input /data/card_sn", "required-added", "request"),
        ("2207 input /data/card_sn", "required-added", "request"),
        ("2207 input /data/pub_hosp_rfom_flag", "required-added", "request"),
    ]
    for change in diff.of(Classification.BREAKING)[:4]:
        assert change.message.startswith(CARD_SN) and "senders" in change.message
    assert diff.of(Classification.BREAKING)[4].message == "pub_hosp_rfom_flag now required: senders that leave it out are rejected"
    assert diff.of(Classification.COMPATIBLE) == []
    info = {(c.category, c.location) for c in diff.of(Classification.INFO)}
    assert {c for c, _ in info} == {"description-changed", "metadata-changed"}
    assert ("metadata-changed", "contract.yaml /supersedes") in info
    assert ("description-changed", "2207 input /data/pub_hosp_rfom_flag") in info
    assert diff.notes == []


def test_2024_to_2025_adds_the_a_transactions_and_breaks_nothing(store: ContractStore, contract_2024: Contract) -> None:
    diff = diff_contracts(contract_2024, store.load("insurance", "2025.1"))

    assert not diff.breaking
    compatible = [(c.category, c.location) for c in diff.of(Classification.COMPATIBLE)]
    assert [loc for cat, loc in compatible if cat == "operation-added"] == [
        "contract.yaml /transactions/2203A", "contract.yaml /transactions/2206A", "contract.yaml /transactions/2207A"]
    extended = [c for c in diff.of(Classification.COMPATIBLE) if c.category == "rule-extended"]
    assert {c.location for c in extended} == {"contract.yaml /rules/psn-no-needs-insuplc", "contract.yaml /rules/setl-sum",
                                             "contract.yaml /rules/medins-setl-id"}
    assert all("applies to the added" in c.message for c in extended)


def test_the_reverse_direction_is_compatible(contract_2023: Contract, contract_2024: Contract) -> None:
    diff = diff_contracts(contract_2024, contract_2023)
    assert not diff.breaking
    assert [c.category for c in diff.of(Classification.COMPATIBLE)] == ["required-removed"] * 5


def test_text_output_groups_by_classification_with_impacted_scenarios(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["contract", "diff", "insurance", "2023.1", "2024.1"])
    out = capsys.readouterr().out

    assert code == 1
    assert out.startswith("insurance 2023.1 → 2024.1 (http-json): 5 breaking, 0 compatible, 12 info\n")
    assert "impact: static scan of " in out and "history not used: no run history at" in out
    assert out.index("BREAKING (5)") < out.index("INFO (12)") and "COMPATIBLE" not in out
    block = out[out.index("  2207 input /data/pub_hosp_rfom_flag\n"):out.index("INFO (12)")]
    assert "pub_hosp_rfom_flag now required" in block
    assert "政策版本 · 2024.1 起门诊结算携带公立医院改革标志  [static: steps perform 2207]" in block
    assert "撤销尚未收费的门诊挂号" not in block
    card = out[out.index("  1101 input /data/card_sn\n"):out.index("  2201 input /data/card_sn\n")]
    assert "政策版本 · 2024.1 起社会保障卡未带卡识别码时，连接器在发送 1101 前拒绝" in card
    assert "以居民身份证号查询参保人信息" not in card
    assert "  2207 input /data/pub_hosp_rfom_flag: description" in out


def test_json_output_is_a_stable_document(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["contract", "diff", "insurance", "2023.1", "2024.1", "--format", "json"])
    document = json.loads(capsys.readouterr().out)

    assert code == 1
    assert list(document) == ["format", "interface", "transport", "old", "new", "breaking", "counts", "notes", "impact",
                              "changes"]
    assert (document["format"], document["interface"], document["old"], document["new"]) == (
        "hih-contract-diff/1", "insurance", "2023.1", "2024.1")
    assert document["breaking"] is True
    assert document["counts"] == {"breaking": 5, "compatible": 0, "info": 12}
    assert document["impact"]["methods"] == ["static"]
    assert document["impact"]["static"]["scenarios"] == 80
    assert document["impact"]["history"]["problem"].startswith("no run history at")
    for change in document["changes"]:
        assert set(change) == {"classification", "category", "location", "operation", "part", "pointer", "side",
                               "message", "old", "new", "impacted"}
        if change["classification"] == "info":
            assert change["impacted"] == []
    first = document["changes"][0]
    assert (first["location"], first["operation"], first["part"], first["pointer"], first["side"]) == (
        "1101 input /data/card_sn", "1101", "input", "/data/card_sn", "request")
    assert (first["old"], first["new"]) == ("optional", "required")
    hit = first["impacted"][0]
    assert set(hit) == {"feature", "scenario", "file", "example", "nodeid", "via", "reasons"}
    assert hit["via"] == ["static"] and hit["nodeid"] is None
    policy = [h for h in first["impacted"] if h["example"] == {"交易": "2207"}]
    assert policy and all(h["file"] == "policy_versions.feature" for h in policy)


@pytest.mark.parametrize(("args", "code", "message"), [
    (["insurance", "2024.1", "2024.1"], 0, None),
    (["insurance", "2024.1", "2023.1"], 0, None),
    (["insurance", "2023.1", "2024.1"], 1, None),
    (["insurance", "2023.1", "1999.9"], 2, "hih: error: unknown version '1999.9' of insurance (known: 2023.1, 2024.1, 2025.1)\n"),
    (["lab", "2023.1", "2024.1"], 2, "hih: error: unknown interface 'lab'"),
    (["insurance", "2023.1", "2024.1", "--format", "xml"], 2, "hih: error: --format must be text or json, not 'xml'\n"),
    (["insurance", "2023.1"], 2, "Missing argument 'NEW'"),
])
def test_exit_codes(capsys: pytest.CaptureFixture[str], args: list[str], code: int, message: str | None) -> None:
    assert main(["contract", "diff", *args]) == code
    err = capsys.readouterr().err
    if message is None:
        assert err == ""
    else:
        assert message in err and err.count("\n") == 1


def test_a_contracts_dir_without_the_interface(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["contract", "diff", "insurance", "2023.1", "2024.1", "--contracts-dir", str(tmp_path)]) == 2
    assert "unknown interface 'insurance'" in capsys.readouterr().err


def test_no_change_prints_so(store: ContractStore, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["contract", "diff", "insurance", "2024.1", "2024.1"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "no change"
