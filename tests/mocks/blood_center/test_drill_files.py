"""Drill files: the five shipped drills load and name only what the contract has; a broken file is refused as
`path:line: message`; a trainer's folder adds drills or replaces one by id."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.contract.errors import ContractError
from harness.contract.model import Contract
from harness.errors import UsageError
from mocks.blood_center.drill import FOLDER_ENV, SHIPPED, load_drill, load_drills
from mocks.blood_center.inventory import PRODUCTS

GOOD = """\
id: my-drill
title: 我的演练
summary: 一句话说明
briefing: 学员要做的事
goals:
  - id: order
    title: 提交预约单
    when: {operation: SubmitBloodOrder, result: "0"}
"""


@pytest.fixture(scope="module")
def centre_contract() -> Contract:
    from harness.contract.loader import ContractStore
    from tests.conftest import CONTRACTS

    return ContractStore(CONTRACTS).load("blood-center")


def test_the_five_drills_of_the_issue_are_shipped(centre_contract: Contract) -> None:
    drills = load_drills(centre_contract, [SHIPPED])
    titles = [d.title for d in drills.values()]
    assert titles == ["紧急用血且库存不足", "部分满足", "血袋召回", "退血审批", "网络中断后补录"]
    for drill in drills.values():
        assert drill.goals and drill.briefing and drill.summary
        for goal in drill.goals:
            assert goal.when.operation == "*" or goal.when.operation in centre_contract.operations
        for limit in drill.stock:
            assert limit.product in PRODUCTS


def write(folder: Path, text: str, name: str = "drill.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("change", "line", "message"), [
    (("SubmitBloodOrder", "SubmitOrder"), 8, "'SubmitOrder' is not an operation of blood-center@2025.1"),
    (("title: 我的演练", "title: 我的演练\nstock: [{product: E0009, abo: A, rhd: POS, keep: 1}]"), 3,
     "'E0009' is not in the contract's code table 'product'"),
    (("title: 我的演练", "title: 我的演练\nfaults: [{kind: explode}]"), 3, "unknown fault kind 'explode'"),
    (("result: \"0\"}", "request: {din: {contains: $stolen}}}"), 8, "$stolen is not a known value"),
    (("id: my-drill", "id: My Drill"), 1, "'My Drill' does not match"),
    (("    title: 提交预约单", "    title: 提交预约单\n    color: red"), 6, "Additional properties are not allowed ('color'"),
    (("goals:", "goals:\n  - id: order\n    title: 重复\n    when: {operation: QueryNotices}"), 9, "goal id 'order' is used twice"),
])
def test_a_broken_drill_file_is_refused_with_where_and_why(tmp_path: Path, centre_contract: Contract,
                                                          change: tuple[str, str], line: int, message: str) -> None:
    path = write(tmp_path, GOOD.replace(*change, 1))
    with pytest.raises(ContractError) as refused:
        load_drill(path, centre_contract)
    problem = refused.value.problems[0]
    assert message in problem.message, problem
    assert problem.path == path and problem.line == line, problem


def test_a_trainers_folder_adds_drills_and_replaces_one_by_id(tmp_path: Path, centre_contract: Contract,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, GOOD, "mine.yaml")
    write(tmp_path, GOOD.replace("my-drill", "partial").replace("我的演练", "本院的部分满足"), "partial.yaml")
    monkeypatch.setenv(FOLDER_ENV, str(tmp_path))

    drills = load_drills(centre_contract)

    assert drills["my-drill"].title == "我的演练" and drills["partial"].title == "本院的部分满足"
    assert len(drills) == 6


def test_a_broken_folder_or_file_stops_the_server_with_one_line(tmp_path: Path, centre_contract: Contract,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(FOLDER_ENV, str(tmp_path / "missing"))
    with pytest.raises(UsageError, match=f"{FOLDER_ENV}=.*missing: not a folder of drill files"):
        load_drills(centre_contract)
    path = write(tmp_path / "drills", "id: [unclosed\n")
    monkeypatch.setenv(FOLDER_ENV, str(path.parent))
    with pytest.raises(UsageError) as refused:
        load_drills(centre_contract)
    assert str(refused.value).startswith(f"drill {path}:") and "invalid YAML" in str(refused.value)
    assert "\n" not in str(refused.value)
