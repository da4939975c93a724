"""A parse cache of its own for a test (`HIH_CACHE_DIR` in the test's folder), and the entries it holds: shared by
the tests of the contract files' cache and of the feature files' cache, which keep their entries alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.contract import parse_cache


def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the parse cache at a folder of the test's own; returns it (not yet created)."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("HIH_CACHE_DIR", str(folder))
    return folder


def entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("*" + parse_cache.SUFFIX)) if folder.is_dir() else []
