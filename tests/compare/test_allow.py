"""The allow-list of `hih compare`: what each entry accepts, and a clear one-line error, with the line, for a file
that is not one."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.compare.allow import apply, load
from harness.compare.wire import FieldChange, MessageChange, ScenarioChanges
from harness.errors import UsageError


def scenario(*messages: MessageChange, old: str = "passed", new: str = "passed") -> ScenarioChanges:
    return ScenarioChanges("features/x.feature::test_a", "门诊结算", "正常结算", old, new, messages=list(messages))


def written(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "allow.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_field_entry_accepts_changes_of_that_field_only(tmp_path: Path) -> None:
    entries = load(written(tmp_path, '- transaction: "22*"\n  field: /input/data/caty\n  reason: 二级科室\n'))
    only_caty = MessageChange("2201", 1, "changed", [FieldChange("/input/data/caty", "A03", "A03.01")])
    and_more = MessageChange("2201", 2, "changed", [FieldChange("/input/data/caty", "A03", "A03.01"),
                                                    FieldChange("/input/data/dept_name", "内科", "外科")])
    sent_once_more = MessageChange("2201", 3, "only_new")
    found = scenario(only_caty, and_more, sent_once_more)

    apply(entries, [found], "/")

    assert only_caty.allowed_by == "二级科室"
    assert not and_more.allowed_by and not sent_once_more.allowed_by
    assert found.differs and entries[0].used == 1


def test_a_transaction_entry_accepts_any_message_of_it_and_a_verdict_entry_a_changed_verdict(tmp_path: Path) -> None:
    entries = load(written(tmp_path, '- transaction: "2601"\n  scenario: "正常*"\n  reason: 新版不再冲正\n'
                                     "- verdict: true\n  reason: 预期的行为变化\n"))
    found = scenario(MessageChange("2601", 1, "only_old"), old="passed", new="failed")

    apply(entries, [found], "/")

    assert found.messages[0].allowed_by == "新版不再冲正" and found.verdict_allowed_by == "预期的行为变化"
    assert not found.differs


@pytest.mark.parametrize(("text", "said"), [
    ("- transaction: '2201'\n", "allow.yaml:1: every entry says why in `reason`"),
    ("- transaction: '2201'\n  reason: x\n- feld: /a\n  reason: y\n", "allow.yaml:3: unknown key 'feld'"),
    ("- field: /a\n  reason: y\n", "allow.yaml:1: an entry allows either"),
    ("- transaction: '2201'\n  verdict: true\n  reason: y\n", "an entry allows either"),
    ("transaction: '2201'\n", "a list of entries"),
    ("- [unclosed\n", "not YAML"),
])
def test_a_broken_allow_list_is_refused_naming_where(tmp_path: Path, text: str, said: str) -> None:
    with pytest.raises(UsageError) as refused:
        load(written(tmp_path, text))
    assert said in str(refused.value) and "\n" not in str(refused.value)


def test_an_empty_file_allows_nothing_and_a_missing_one_is_a_usage_error(tmp_path: Path) -> None:
    assert load(written(tmp_path, "# nothing allowed yet\n")) == []
    with pytest.raises(UsageError, match="cannot read"):
        load(tmp_path / "absent.yaml")
