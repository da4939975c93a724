"""docs/plug-your-connector.md is enough to write a connector: the minimal insurance adapter on the page, taken from it
as it is, opens the gate with `hih run --connector` on every insurance scenario; and the page's tables name every
method and exception of every port."""

from __future__ import annotations

import inspect
import json
import os
import re
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from harness.cli import main
from harness.ports import blood_center, hl7, insurance, lis, mch_platform, pacs
from tests.conftest import ROOT

PAGE = ROOT / "docs" / "plug-your-connector.md"
ADAPTER = re.compile(r"<!-- adapter: ([\w.]+) -->\n```python\n(.*?)```", re.S)


def page() -> str:
    return PAGE.read_text(encoding="utf-8")


def adapter(folder: Path) -> str:
    [(name, code)] = ADAPTER.findall(page())
    (folder / name).write_text(code, encoding="utf-8")
    return name.removesuffix(".py")


@pytest.mark.slow
@pytest.mark.parametrize("contract", ["2024.1", "2023.1"])
def test_the_adapter_on_the_page_opens_the_gate(tmp_path: Path, contract: str, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """`hih run` from the folder the adapter is in, as the page has it, in this process: its pytest process is forked
    from the suite's pre-imported one (tests/forkserver.py), started with the same command line and import path."""
    module = adapter(tmp_path)
    reports = tmp_path / "reports"
    for name in [k for k in os.environ if k.startswith("HIH_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))  # what `hih run` adds to find the adapter, taken away after
    try:
        code = main(["run", "--interface", "insurance", "--contract", f"insurance={contract}", "--connector",
                     f"insurance={module}:make", "--report-dir", str(reports), "--no-signoff-pdf"])
    finally:
        sys.modules.pop(module, None)
    printed = capsys.readouterr()

    summary = json.loads((reports / "summary.json").read_text(encoding="utf-8"))
    failed = [s["name"] for s in summary["scenarios"] if s["status"] == "failed"]
    assert code == 0 and not failed, f"{failed}\n{printed.out[-3000:]}\n{printed.err[-2000:]}"
    row = summary["interfaces"]["insurance"]
    assert summary["decision"] == "pass" and row["connector"] == f"{module}:make"
    assert row["contract"] == contract and row["passed"] >= 65 and row["failed"] == 0


def mypy_cache(folder: Path) -> Path:
    """A copy, in `folder`, of the project's mypy cache (`.mypy_cache`, which scripts/test's mypy fills beside the
    tests): mypy with the project's options then reads the types of the standard library and of httpx from it instead
    of analysing them again (≈ 4 s of CPU), and writes nothing into the project's. Each of its SQLite files is copied
    with SQLite's backup, whole even while that mypy writes; with no cache to copy, mypy analyses everything."""
    source, target = ROOT / ".mypy_cache", folder / "mypy-cache"
    for database in sorted(source.glob("*/cache*.db")):
        copy = target / database.relative_to(source)
        copy.parent.mkdir(parents=True, exist_ok=True)
        with (closing(sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True, timeout=30)) as read,
              closing(sqlite3.connect(copy, timeout=30)) as write):
            read.backup(write)
    return target


def test_the_adapter_on_the_page_is_clean_code(tmp_path: Path) -> None:
    module = adapter(tmp_path)
    bin_dir = Path(sys.executable).parent
    lint = subprocess.run([str(bin_dir / "ruff"), "check", "--config", str(ROOT / "pyproject.toml"), f"{module}.py"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert lint.returncode == 0, lint.stdout
    # the project's options (pyproject.toml), so that the project's cache holds what this check reads
    types = subprocess.run([str(bin_dir / "mypy"), "--config-file", str(ROOT / "pyproject.toml"), "--cache-dir",
                            str(mypy_cache(tmp_path)), "--ignore-missing-imports", "--disallow-untyped-defs",
                            f"{module}.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    assert types.returncode == 0, types.stdout


def methods(port: type) -> list[str]:
    return [name for name, _ in inspect.getmembers(port, inspect.isfunction) if not name.startswith("_")]


@pytest.mark.parametrize("port", [insurance.InsurancePort, blood_center.BloodCenterPort, mch_platform.MchPlatformPort,
                                  lis.LisPort, pacs.PacsPort])
def test_every_method_of_every_port_is_in_a_table(port: type) -> None:
    text = page()
    missing = [name for name in methods(port) if f"`{name}(" not in text and f"`{name}()`" not in text
               and f"`listener()`, `{name}()`" not in text and f", `{name}()`" not in text]
    assert missing == [], f"{port.__name__}: {missing}"


@pytest.mark.parametrize("module", [insurance, blood_center, mch_platform, hl7])
def test_every_exception_of_every_port_is_in_a_table(module: object) -> None:
    base = Exception
    errors = [name for name, value in vars(module).items() if isinstance(value, type) and issubclass(value, base)
              and value.__module__ == getattr(module, "__name__", "") and name not in (
                  "InsuranceError", "BloodCenterError", "MchError", "Hl7PortError", "AckError")]
    assert errors
    missing = [name for name in errors if not re.search(rf"\| `{name}[(`]", page())]
    assert missing == [], missing
