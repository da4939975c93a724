"""Atomic report directories: a usage error, a raising connector factory or a crash leaves the previous report as
it was (`hih report verify` still passes on it); a finished run replaces it whole."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from rich.console import Console

from harness.cli import main
from harness.errors import UsageError
from harness.report.manifest import verify
from harness.run.options import RunOptions
from harness.run.runner import run
from harness.run.staging import Staging
from tests.conftest import DATA

FEATURES = DATA / "features"
RAISING = "tests.data.connectors.raising_factory:make"


@pytest.fixture(scope="module")
def previous(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished report directory of the tiny features (made once; each test copies it)."""
    folder = tmp_path_factory.mktemp("previous") / "reports"
    console = Console(file=io.StringIO(), width=120, color_system=None)
    assert run(RunOptions(features_dir=FEATURES, report_dir=folder, workers=1, signoff_pdf=False), console) == 0
    return folder


def copy_of(previous: Path, tmp_path: Path) -> Path:
    import shutil

    target = tmp_path / "reports"
    shutil.copytree(previous, target)
    return target


def listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_a_bad_tag_expression_leaves_the_previous_report_untouched(previous: Path, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    reports = copy_of(previous, tmp_path)
    before = listing(reports)

    assert main(["run", "--tags", "@smoke and (", "--report-dir", str(reports)]) == 2

    assert capsys.readouterr().err.startswith("hih: error: --tags '@smoke and (': ")
    assert listing(reports) == before
    assert verify(reports, lambda line: None) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports"], "no working directory left behind"


def test_a_raising_connector_factory_is_exit_2_naming_it_and_the_report_stays(previous: Path, tmp_path: Path,
                                                                                capsys: pytest.CaptureFixture[str],
                                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The factory can only be called with a started mock, in the spec run: the runner stops pytest at the first
    scenario that reports it and exits 2 with one line, instead of closing the gate on every scenario."""
    reports = copy_of(previous, tmp_path)
    before = listing(reports)
    with pytest.raises(UsageError) as caught:
        run(RunOptions(features_dir=FEATURES, report_dir=reports, workers=1, connectors={"insurance": RAISING}),
            Console(file=io.StringIO()))
    assert str(caught.value) == (f"connector insurance={RAISING}: the factory raised RuntimeError: "
                                 "licence server 10.0.0.9 unreachable")
    assert listing(reports) == before

    code = main(["run", "--interface", "insurance", "--tags", "@smoke", "--connector", f"insurance={RAISING}",
                 "--report-dir", str(reports)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert err == (f"hih: error: connector insurance={RAISING}: the factory raised RuntimeError: licence server "
                   "10.0.0.9 unreachable\n")
    assert listing(reports) == before


def test_a_finished_run_replaces_the_previous_report_whole(previous: Path, tmp_path: Path) -> None:
    reports = copy_of(previous, tmp_path)
    (reports / "left-over.txt").write_text("from an older run", encoding="utf-8")
    console = Console(file=io.StringIO(), width=120, color_system=None)

    assert run(RunOptions(features_dir=FEATURES, report_dir=reports, workers=1, tags="@tiny", signoff_pdf=False),
               console) == 0

    assert not (reports / "left-over.txt").exists()
    assert json.loads((reports / "summary.json").read_text(encoding="utf-8"))["tags"] == "@tiny"
    assert verify(reports, lambda line: None) == 0
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == [], "no working directory left behind"


# -- the staging directory itself ----------------------------------------------------------------------------------
def test_staging_commit_discard_and_sweep(tmp_path: Path) -> None:
    target = tmp_path / "out" / "latest"
    first = Staging(target)
    assert first.path.parent == target.parent and first.path.name.startswith(f".latest.{os.getpid()}.tmp-")
    assert oct(first.path.stat().st_mode & 0o777) != oct(0o700), "readable like any report directory"
    (first.path / "summary.json").write_text("{}", encoding="utf-8")
    first.commit()
    assert (target / "summary.json").is_file() and not first.path.exists()

    second = Staging(target)
    (second.path / "pytest.log").write_text("collection failed", encoding="utf-8")
    kept = second.discard(keep_log=True)
    assert kept == tmp_path / "out" / "latest.failed" and (kept / "pytest.log").is_file()
    assert (target / "summary.json").is_file()

    dead = tmp_path / "out" / ".latest.999999999.tmp-abc"  # a process that no longer exists
    dead.mkdir()
    Staging(target).discard()
    assert not dead.exists()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["latest", "latest.failed"]


def test_staging_refuses_a_file_where_the_directory_goes(tmp_path: Path) -> None:
    (tmp_path / "report").write_text("not a directory", encoding="utf-8")
    with pytest.raises(UsageError, match=r"--report-dir .*report: exists and is not a directory"):
        Staging(tmp_path / "report")
