"""The command line under hostile input: a bad `--state`, unreadable contract folders, a 100,000-deep JSON capture.
Each is one line on stderr and exit 2 (or a finding and exit 1), never a traceback and never a folder skipped."""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.cli.test_cli import one_line_error as one_line
from tests.cli.test_cli import run_cli
from tests.conftest import CONTRACTS

Denier = Callable[[Path], None]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A contracts root with the insurance contracts and a third version folder to break."""
    target = tmp_path / "contracts"
    shutil.copytree(CONTRACTS / "insurance", target / "insurance")
    (target / "insurance" / "2099.9").mkdir()
    return target


@pytest.fixture
def deny(monkeypatch: pytest.MonkeyPatch) -> Iterator[Denier]:
    """Make listing a folder fail with EACCES, as a folder without read permission does for a user other than root
    (root reads every folder, so the suite cannot take the permission away for real when it runs as root)."""
    denied: set[str] = set()
    listdir, scandir = os.listdir, os.scandir

    def check(path: str | os.PathLike[str] | int) -> None:
        if isinstance(path, int):  # an open folder's descriptor (shutil.rmtree lists by descriptor): not a path denied
            return
        if os.fspath(path) in denied:
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))

    def guarded_listdir(path: str | os.PathLike[str] | int = ".") -> list[str]:
        check(path)
        return listdir(path)

    def guarded_scandir(path: str | os.PathLike[str] | int = ".") -> Iterator[os.DirEntry[str]]:
        check(path)
        return scandir(path)

    monkeypatch.setattr(os, "listdir", guarded_listdir)
    monkeypatch.setattr(os, "scandir", guarded_scandir)
    yield lambda path: denied.add(str(path))


# -- unreadable contract folders ------------------------------------------------------------------------------------
def test_a_contract_yaml_that_is_a_broken_link_is_a_problem_not_a_skip(capsys: pytest.CaptureFixture[str], root: Path) -> None:
    broken = root / "insurance" / "2099.9" / "contract.yaml"
    broken.symlink_to(root / "nowhere.yaml")

    code, out, err = run_cli(capsys, "contract", "check", str(root))
    assert code == 2 and "ok insurance@2023.1" in out and "ok insurance@2024.1" in out
    assert err.strip() == f"{broken}: contract.yaml is a broken link"

    code, _, err = run_cli(capsys, "validate", "--interface", "insurance", "--contracts-dir", str(root),
                           str(CONTRACTS.parent / "tests" / "data" / "captures" / "9001-request.json"))
    assert code == 2
    assert one_line(err) == (f"{broken.parent}: contract.yaml is a broken link; hih does not skip a contract folder "
                             "it cannot read")


@pytest.mark.parametrize("command", [["contract", "list"], ["contract", "show", "insurance"], ["run", "--interface", "insurance"]])
def test_an_unlistable_version_folder_stops_every_other_command(capsys: pytest.CaptureFixture[str], root: Path,
                                                                deny: Denier, command: list[str]) -> None:
    deny(root / "insurance" / "2099.9")
    code, _, err = run_cli(capsys, *command, "--contracts-dir", str(root))
    assert code == 2, err
    assert one_line(err) == (f"{root / 'insurance' / '2099.9'}: cannot read the folder (Permission denied); hih does "
                             "not skip a contract folder it cannot read")


def test_contract_check_reports_an_unlistable_folder(capsys: pytest.CaptureFixture[str], root: Path, deny: Denier) -> None:
    deny(root / "insurance" / "2099.9")
    code, out, err = run_cli(capsys, "contract", "check", str(root))
    assert code == 2 and out.count("ok insurance@") == len(list((CONTRACTS / "insurance").iterdir()))
    assert err.strip() == f"{root / 'insurance' / '2099.9'}: cannot read the folder (Permission denied)"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every folder whatever its mode; the simulated denial above covers it")
def test_a_folder_without_read_permission_is_reported(root: Path) -> None:  # pragma: no cover - runs as a normal user
    folder = root / "insurance" / "2099.9"
    shutil.copytree(root / "insurance" / "2024.1", folder, dirs_exist_ok=True)
    folder.chmod(0)
    try:
        done = subprocess.run([sys.executable, "-m", "harness.cli", "contract", "check", str(root)],
                              capture_output=True, text=True, timeout=60)
    finally:
        folder.chmod(0o755)
    assert done.returncode == 2 and "Permission denied" in done.stderr and "Traceback" not in done.stderr


# -- a bad --state ----------------------------------------------------------------------------------------------------
def _not_a_database(tmp_path: Path) -> Path:
    path = tmp_path / "notes.txt"
    path.write_text("a trainer's notes, not a database\n" * 200, encoding="utf-8")
    return path


def _other_program(tmp_path: Path) -> Path:
    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE patients (id INTEGER)")
    return path


@pytest.mark.parametrize(("make", "words"), [
    (_not_a_database, "not a SQLite database hih can use (file is not a database)"),
    (lambda tmp: tmp, "is a folder, not a file"),
    (_other_program, "a SQLite database of another program (no 'docs' table)"),
])
def test_a_bad_state_file_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                 make: Callable[[Path], Path], words: str) -> None:
    path = make(tmp_path)
    before = path.read_bytes() if path.is_file() else None
    code, out, err = run_cli(capsys, "mock", "serve", "--interface", "blood-center", "--state", str(path))
    assert code == 2 and "ready" not in out
    assert one_line(err) == f"state file {path}: {words}" + ("; give a new file or one hih wrote" if "another" in words else "")
    if before is not None:
        assert path.read_bytes() == before, "the file was left as it was"


# -- hostile captures -------------------------------------------------------------------------------------------------
def test_validate_a_100000_deep_json_capture_is_a_finding(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    capture = tmp_path / "deep.json"
    capture.write_bytes(b'{"infno":"9001","input":' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    code, out, err = run_cli(capsys, "validate", "--interface", "insurance", str(capture))
    assert code == 1 and "Traceback" not in err
    assert out.strip() == f"{capture}: ERROR / JSON nested 100001 levels deep, over the limit of 64"
