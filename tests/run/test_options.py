"""What `hih run` checks before anything starts: NAME=VALUE pairs, tag expressions, the run plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import UsageError
from harness.run.options import RunOptions, feature_dir, parse_pairs, plan, tags_to_markexpr
from tests.conftest import DATA

FEATURES = DATA / "features"


def test_parse_pairs() -> None:
    assert parse_pairs([], "--contract") == {}
    assert parse_pairs(["insurance=2023.1", " lis = 2.5.1 "], "--contract") == {"insurance": "2023.1", "lis": "2.5.1"}
    assert parse_pairs(["insurance=pkg.mod:make"], "--connector") == {"insurance": "pkg.mod:make"}
    assert parse_pairs(["insurance=a=b"], "--port") == {"insurance": "a=b"}


@pytest.mark.parametrize("value", ["insurance", "=2024.1", "insurance=", " = ", "insurance= "])
def test_parse_pairs_refuses_malformed_values(value: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_pairs([value], "--contract")
    assert str(caught.value) == f"--contract {value!r}: expected NAME=VALUE"


def test_parse_pairs_refuses_a_repeated_name() -> None:
    with pytest.raises(UsageError, match="--connector given twice for 'insurance'"):
        parse_pairs(["insurance=a:b", "insurance=c:d"], "--connector")


@pytest.mark.parametrize(("tags", "expression"), [
    ("@smoke", "smoke"),
    ("@smoke and not @fault", "smoke and not fault"),
    ("(@flow or @fault) and not @slow", "(flow or fault) and not slow"),
    ("  @smoke  ", "smoke"),
    ("smoke", "smoke"),
])
def test_tags_to_markexpr(tags: str, expression: str) -> None:
    assert tags_to_markexpr(tags) == expression


@pytest.mark.parametrize("tags", ["", "@", "@smoke; rm -rf /", "@smoke && @fault", "@a|@b"])
def test_tags_to_markexpr_refuses_what_is_not_a_tag_expression(tags: str) -> None:
    with pytest.raises(UsageError, match="use tag names with and, or, not and parentheses"):
        tags_to_markexpr(tags)


def test_tags_with_hyphens_are_tag_names() -> None:
    """Gherkin tags such as @JIRA-123 or @slow-path are ordinary tags; pytest's -m accepts them as they are."""
    assert tags_to_markexpr("@JIRA-123 and not @slow-path") == "JIRA-123 and not slow-path"


def test_feature_dir_of_hyphenated_interfaces() -> None:
    assert feature_dir(Path("f"), "blood-center") == Path("f/blood_center")


def test_plan_selects_interfaces_contracts_and_connectors(tmp_path: Path) -> None:
    checked = plan(RunOptions(features_dir=FEATURES, report_dir=tmp_path, contracts={"insurance": "2023.1"},
                              tags="@tiny and not @slow"))
    assert list(checked.contracts) == ["insurance"]
    assert checked.contracts["insurance"].version == "2023.1"
    assert checked.connectors == {"insurance": "connectors.insurance:reference"}
    assert checked.feature_dirs == {"insurance": FEATURES / "insurance"}
    assert checked.markexpr == "tiny and not slow"


def test_plan_defaults_to_the_newest_contract(tmp_path: Path) -> None:
    checked = plan(RunOptions(features_dir=FEATURES, report_dir=tmp_path,
                              connectors={"insurance": "tests.data.connectors.unsigned_connector:make"}))
    assert checked.contracts["insurance"].version == "2025.1"
    assert checked.connectors["insurance"] == "tests.data.connectors.unsigned_connector:make"
    assert checked.markexpr is None


@pytest.mark.parametrize(("options", "message"), [
    ({"interfaces": ["lab"]}, "unknown interface 'lab' (known: insurance)"),
    ({"contracts": {"insurance": "2099.1"}}, "--contract insurance=2099.1: unknown version (known: 2023.1, 2024.1, 2025.1)"),
    ({"contracts": {"lab": "1.0"}}, "--contract names unknown interface 'lab' (known: insurance)"),
    ({"connectors": {"lab": "x:y"}}, "--connector names unknown interface 'lab' (known: insurance)"),
    ({"changed_since": ["lab=1.0"]}, "--changed-since names unknown interface 'lab' (known: insurance)"),
    ({"scenario_timeout_s": 0}, "--scenario-timeout must be a number of seconds above 0, not 0"),
    ({"timeout_s": -1}, "--timeout must be a number of seconds above 0, not -1"),
    ({"tags": "@smoke and ("}, "--tags '@smoke and (': expected not OR left parenthesis OR identifier"),
    ({"connectors": {"insurance": "nowhere_at_all:make"}}, "cannot import 'nowhere_at_all'"),
    ({"workers": 0}, "--workers must be at least 1, not 0"),
    ({"tags": "@a;@b"}, "--tags '@a;@b'"),
])
def test_plan_refuses_bad_options(tmp_path: Path, options: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError) as caught:
        plan(RunOptions(features_dir=FEATURES, report_dir=tmp_path, **options))  # type: ignore[arg-type]
    assert message in str(caught.value)


def test_plan_without_features(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="nothing to run: no interface has contracts, a binding and features"):
        plan(RunOptions(features_dir=tmp_path / "features", report_dir=tmp_path))
    with pytest.raises(UsageError, match="interface 'insurance' has no features in"):
        plan(RunOptions(features_dir=tmp_path / "features", report_dir=tmp_path, interfaces=["insurance"]))


def test_one_set_of_options_serves_every_ci_shard() -> None:
    """`HIH_RUN_ARGS="--connector insurance=… --contract insurance=2023.1 --changed-since insurance=2023.1"` on the lis
    shard: ignored there, with one note line; the insurance shard uses them."""
    from tests.conftest import ROOT

    shared = {"connectors": {"insurance": "tests.data.connectors.unsigned_connector:make"},
              "contracts": {"insurance": "2023.1"}, "changed_since": ["insurance=2023.1"]}
    lis = plan(RunOptions(features_dir=ROOT / "features", interfaces=["lis"], **shared))  # type: ignore[arg-type]
    assert list(lis.contracts) == ["lis"] and lis.connectors == {"lis": "connectors.lis:reference"}
    assert lis.changed_since == {}
    assert lis.notes == [("note: not selected in this run, so ignored: --contract insurance, --connector insurance, "
                         "--changed-since insurance")]

    insurance = plan(RunOptions(features_dir=ROOT / "features", interfaces=["insurance"], **shared))  # type: ignore[arg-type]
    assert insurance.contracts["insurance"].version == "2023.1" and insurance.notes == []
    assert insurance.connectors["insurance"] == "tests.data.connectors.unsigned_connector:make"
    assert insurance.changed_since == {"insurance": "2023.1"}
