"""A run's work root (each scenario's connector work folder under it) is in RAM where the machine has a tmpfs with
room (`harness.run.warm.work_parent`), unless TMPDIR names the temporary folder; the connectors' durable state still
outlives their restart there."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest

from harness.run import warm

PROBE = '''"""The reference LIS connector, noting where each instance keeps its store."""
import os
from connectors.lis import reference


def factory(settings):
    with open(os.environ["HIH_TEST_STORES"], "a", encoding="utf-8") as out:
        out.write(settings.store_path + "\\n")
    return reference(settings)
'''


def test_tmpdir_names_the_folder_when_set(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    assert warm.work_parent() is None


def test_the_work_root_goes_where_work_parent_says(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TMPDIR", raising=False)
    parent = warm.work_parent()
    env = warm.child_env()
    root = Path(env[warm.WORK_ROOT_ENV])
    try:
        assert root.parent == Path(parent or tempfile.gettempdir())
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.fresh_processes
def test_a_restart_run_keeps_its_stores_in_ram_and_they_outlive_the_restart(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("TMPDIR", raising=False)
    parent = warm.work_parent()
    if parent is None:
        pytest.skip(f"{warm.RAM_FOLDER} is no tmpfs with {warm.RAM_ROOM >> 20} MB free here: runs use the disk")
    from harness.cli import main

    (tmp_path / "ram_probe_lis.py").write_text(PROBE, encoding="utf-8")
    stores = tmp_path / "stores.txt"
    monkeypatch.chdir(tmp_path)  # the working folder is importable in the run's processes (`module:factory`)
    monkeypatch.setenv("HIH_TEST_STORES", str(stores))
    monkeypatch.setenv("HIH_HISTORY", "off")
    code = main(["run", "--interface", "lis", "--tags", "@restart", "--connector", "lis=ram_probe_lis:factory",
                 "--report-dir", str(tmp_path / "r"), "--no-signoff-pdf"])

    summary = json.loads((tmp_path / "r" / "summary.json").read_text(encoding="utf-8"))
    assert code == 0 and summary["decision"] == "pass", summary["scenarios"]
    assert summary["interfaces"]["lis"]["passed"] >= 2
    paths = stores.read_text(encoding="utf-8").split()
    assert len(paths) > len(set(paths)), "a restarted connector opened its predecessor's store again"
    assert all(Path(path).is_relative_to(parent) for path in paths), paths
    assert not any(Path(path).parent.exists() for path in paths), "the scenarios' work folders are gone"
