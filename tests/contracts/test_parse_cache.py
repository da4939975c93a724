"""The cache of parsed YAML contract files: a hit gives what parsing gives, an edit misses, a damaged entry or an
unwritable folder is passed by, and the folder stays bounded."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.contract import parse_cache
from harness.contract.errors import ContractError
from harness.contract.loader import load_contract
from harness.contract.source import load_source
from tests.conftest import CONTRACTS
from tests.parse_cache_dirs import entries, own_cache


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return own_cache(tmp_path, monkeypatch)


def parsed_fresh(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[object, dict[str, int]]:
    with monkeypatch.context() as m:
        m.setenv("HIH_CACHE_DIR", "off")
        source = load_source(path)
    return source.data, source.lines


def test_a_hit_gives_the_data_and_lines_of_a_parse(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = CONTRACTS / "insurance" / "2025.1" / "contract.yaml"
    first = load_source(path)
    assert len(entries(cache_dir)) == 1
    monkeypatch.setattr("ruamel.yaml.YAML.load", lambda *a, **k: pytest.fail("parsed although cached"))
    second = load_source(path)
    monkeypatch.undo()
    assert (second.data, second.lines) == (first.data, first.lines) == parsed_fresh(path, monkeypatch)
    assert second.line_of("/version") == first.line_of("/version") == 5


def test_every_contract_file_reads_the_same_from_the_cache(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = sorted(CONTRACTS.rglob("*.yaml"))
    assert len(files) > 10
    for path in files:
        load_source(path)
    assert len(entries(cache_dir)) == len({p.read_bytes() for p in files})
    for path in files:
        cached = load_source(path)
        assert (cached.data, cached.lines) == parsed_fresh(path, monkeypatch), path
    folders = sorted(p.parent for p in CONTRACTS.glob("*/*/contract.yaml"))
    assert all(load_contract(folder).operations for folder in folders)


def test_an_edited_file_is_parsed_again(cache_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("a: 1\nb:\n  - x\n", encoding="utf-8")
    assert load_source(path).data == {"a": 1, "b": ["x"]}
    path.write_text("a: 2\n\nb:\n  - y\n", encoding="utf-8")
    edited = load_source(path)
    assert edited.data == {"a": 2, "b": ["y"]} and edited.line_of("/b") == 3
    assert len(entries(cache_dir)) == 2


def test_a_syntax_error_is_reported_at_its_line_and_not_cached(cache_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("a: 1\nb: [unclosed\n", encoding="utf-8")
    with pytest.raises(ContractError) as raised:
        load_source(path)
    assert raised.value.problems[0].line >= 2 and "invalid YAML" in raised.value.problems[0].message
    assert not entries(cache_dir)


def test_a_damaged_entry_is_parsed_again(cache_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("a: 1\n", encoding="utf-8")
    load_source(path)
    (entry,) = entries(cache_dir)
    entry.write_bytes(b"\x00not marshal")
    assert load_source(path).data == {"a": 1}


def test_data_marshal_cannot_hold_is_parsed_each_time(cache_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "hex.yaml"
    path.write_text("mask: 0x1F\n", encoding="utf-8")
    assert load_source(path).data == {"mask": 31}
    assert not entries(cache_dir)
    assert load_source(path).data == {"mask": 31}


def test_off_and_unwritable_folders_only_cost_time(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("a: 1\n", encoding="utf-8")
    monkeypatch.setenv("HIH_CACHE_DIR", "off")
    assert parse_cache.folder() is None and load_source(path).data == {"a": 1}
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv("HIH_CACHE_DIR", str(blocker / "cache"))
    assert load_source(path).data == {"a": 1}


def test_the_default_folder_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("HIH_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert parse_cache.folder() == tmp_path / "hih" / "yaml"


def test_the_folder_stays_bounded(cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parse_cache, "MAX_ENTRIES", 6)
    for n in range(7):
        path = tmp_path / f"c{n}.yaml"
        path.write_text(f"n: {n}\n", encoding="utf-8")
        load_source(path)
    assert 0 < len(entries(cache_dir)) <= 6
    assert not list(cache_dir.glob(".writing-*"))
    shutil.rmtree(cache_dir)
