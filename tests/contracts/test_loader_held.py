"""A loaded contract reused: the folder's fingerprint (every file's time and size) and a contract held for a session.

`load_contract` reads a folder again only when its fingerprint changed; a folder held (`hold`, as a run's pytest
session holds the contracts it loaded) is answered with the held contract, unread, until it is released.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.contract import loader
from harness.contract.loader import _fingerprint, hold, load_contract, release
from tests.conftest import edit


def rglob_fingerprint(folder: Path) -> tuple[tuple[str, int, int], ...]:
    """The fingerprint as `Path.rglob` and `Path.stat` give it: what `_fingerprint` must equal."""
    return tuple(sorted((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in folder.rglob("*") if p.is_file()))


NAMES = st.sampled_from(["a.json", "b.yaml", "c", "d.md"])
TREES = st.lists(st.tuples(st.lists(st.sampled_from(["schemas", "x", "y"]), max_size=2), NAMES,
                           st.binary(max_size=8)), max_size=8)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=TREES, link_dir=st.booleans(), link_file=st.booleans(), dangling=st.booleans())
def test_the_fingerprint_lists_what_rglob_lists(tmp_path_factory: object, tree: list[tuple[list[str], str, bytes]],
                                                link_dir: bool, link_file: bool, dangling: bool) -> None:
    root = Path(os.path.realpath(tmp_path_factory.mktemp("tree")))  # type: ignore[attr-defined]
    for parts, name, data in tree:
        folder = root.joinpath(*parts)
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / name).is_dir():
            (folder / name).write_bytes(data)
    outside = root.parent / f"{root.name}-outside"
    (outside / "deep").mkdir(parents=True)
    (outside / "deep" / "f.json").write_text("{}", encoding="utf-8")
    if link_dir:
        (root / "linked").symlink_to(outside, target_is_directory=True)  # rglob does not enter it
    if link_file:
        (root / "linked.json").symlink_to(outside / "deep" / "f.json")  # a file through a link counts
    if dangling:
        (root / "gone.json").symlink_to(outside / "missing.json")

    assert _fingerprint(root) == rglob_fingerprint(root)


def test_an_edit_an_added_and_a_removed_file_each_change_the_fingerprint(contract_copy: Path) -> None:
    before = _fingerprint(contract_copy)
    edit(contract_copy / "contract.yaml", 'title_en: National', 'title_en: national')  # the same size
    edited = _fingerprint(contract_copy)
    (contract_copy / "schemas" / "notes.txt").write_text("x", encoding="utf-8")
    added = _fingerprint(contract_copy)
    (contract_copy / "CHANGELOG.md").unlink()
    removed = _fingerprint(contract_copy)

    assert len({before, edited, added, removed}) == 4


def test_a_held_contract_answers_its_folder_until_released(contract_copy: Path) -> None:
    loaded = load_contract(contract_copy)
    hold(loaded)
    try:
        edit(contract_copy / "contract.yaml", 'title_en: National', 'title_en: Edited National')
        assert load_contract(contract_copy) is loaded, "held: the session's contract, the edit not read"
        assert load_contract(contract_copy.parent / ".." / contract_copy.parent.name / contract_copy.name) is loaded
    finally:
        release(loaded)
    reloaded = load_contract(contract_copy)

    assert reloaded is not loaded
    assert reloaded.title_en.startswith("Edited ")
    assert not loaded.title_en.startswith("Edited ")


def test_holds_nest_and_the_latest_answers(contract_copy: Path) -> None:
    first = load_contract(contract_copy)
    hold(first)
    edit(contract_copy / "contract.yaml", 'title_en: National', 'title_en: Second National')
    second = load_contract(contract_copy.resolve().parent / contract_copy.name)
    assert second is first  # held under its resolved path too
    try:
        release(first)
        second = load_contract(contract_copy)
        hold(second)
        hold(first)
        assert load_contract(contract_copy) is first
        release(first)
        assert load_contract(contract_copy) is second
        release(second)
        release(second)  # a release too many does nothing
    finally:
        release(first)
    assert load_contract(contract_copy) is second  # unchanged since: the fingerprint's cache, not a hold


def test_a_hold_by_a_relative_folder_ends_after_a_change_of_working_folder(contract_copy: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(contract_copy.parent.parent)
    relative = Path("insurance") / "2024.1"
    loaded = load_contract(relative)
    hold(loaded)
    assert load_contract(contract_copy) is loaded
    monkeypatch.chdir(contract_copy.parent.parent.parent)  # `insurance/2024.1` names no folder from here
    release(loaded)

    # this contract only: in a shared test process other tests' sessions may hold contracts of their own
    assert not [key for key, held in loader._HELD.items() if any(c is loaded for c in held)], \
        "released under every key it was held under"
