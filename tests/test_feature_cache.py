"""The cache of feature files' parsed Gherkin: a hit gives the document pytest-bdd's own parse gives, for every
feature file hih ships; an edit misses; a malformed file is reported by pytest-bdd and never cached; the plugin
puts pytest-bdd's reader back when pytest is done."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_bdd.parser
from pytest_bdd.exceptions import GherkinParseError
from pytest_bdd.gherkin_parser import get_gherkin_document

from harness import feature_cache
from harness.contract import parse_cache
from tests.parse_cache_dirs import entries, own_cache

FEATURES = Path(__file__).resolve().parents[1] / "features"
SHIPPED = sorted(FEATURES.rglob("*.feature"))


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return own_cache(tmp_path, monkeypatch)


def test_every_shipped_feature_comes_back_as_pytest_bdd_parses_it(cache_dir: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    assert len(SHIPPED) > 30, "the features hih ships"
    first = [feature_cache.gherkin_document(str(path)) for path in SHIPPED]
    assert len(entries(cache_dir)) == len({path.read_text(encoding="utf-8") for path in SHIPPED})
    monkeypatch.setattr("gherkin.parser.Parser.parse", lambda *a, **k: pytest.fail("parsed although cached"))
    for path, fresh in zip(SHIPPED, first, strict=True):
        assert feature_cache.gherkin_document(str(path)) == fresh, path
    monkeypatch.undo()
    for path, cached in zip(SHIPPED, first, strict=True):
        assert cached == get_gherkin_document(str(path)), f"{path}: a fresh parse by pytest-bdd differs"


def test_an_edited_file_is_parsed_again(cache_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "one.feature"
    path.write_text("Feature: 结算\n  Scenario: 一\n    Given 甲\n", encoding="utf-8")
    feature_cache.gherkin_document(str(path))
    path.write_text("Feature: 结算\n  Scenario: 二\n    Given 乙\n", encoding="utf-8")
    document = feature_cache.gherkin_document(str(path))
    assert document.feature is not None and document.feature.children[0].scenario is not None
    assert document.feature.children[0].scenario.name == "二"
    assert len(entries(cache_dir)) == 2


def test_a_malformed_file_is_reported_by_pytest_bdd_and_not_cached(cache_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.feature"
    path.write_text("Feature: 结算\n  Scenario: 一\n    Given 甲\n  Examples:\n    | a |\n  nonsense here\n",
                    encoding="utf-8")
    with pytest.raises(GherkinParseError) as raised:
        feature_cache.gherkin_document(str(path))
    assert raised.value.line > 0 and str(path) in str(raised.value.filename)
    assert entries(cache_dir) == []


def test_off_keeps_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HIH_CACHE_DIR", "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert feature_cache.gherkin_document(str(SHIPPED[0])) == get_gherkin_document(str(SHIPPED[0]))
    assert not any(tmp_path.rglob("*" + parse_cache.SUFFIX))


def test_the_plugin_reads_through_the_cache_and_puts_pytest_bdd_back(pytestconfig: pytest.Config) -> None:
    own = pytest_bdd.parser.get_gherkin_document
    feature_cache.pytest_configure(pytestconfig)
    try:
        assert pytest_bdd.parser.get_gherkin_document is feature_cache.gherkin_document
    finally:
        feature_cache.pytest_unconfigure(pytestconfig)
    assert pytest_bdd.parser.get_gherkin_document is own
