"""The hih plugin's session: one contract per interface for the whole session, loaded once."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from harness.errors import UsageError
from harness.plugin import HihSession
from tests.conftest import ROOT


class Options:
    """The options `HihSession` reads, as `hih run` gives them to its pytest process."""

    def __init__(self, contracts_dir: Path, versions: list[str]) -> None:
        self.values: dict[str, Any] = {"--hih-contracts-dir": str(contracts_dir), "--hih-contract": versions,
                                       "--hih-contracts-checked": False, "--hih-connector": [],
                                       "--hih-timeout": 5.0}

    def getoption(self, name: str) -> Any:
        return self.values[name]


def test_a_session_loads_each_contract_once_and_keeps_it(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "contracts" / "insurance", tmp_path / "insurance")
    version = sorted(p.name for p in (tmp_path / "insurance").iterdir() if (p / "contract.yaml").is_file())[-1]
    config: Any = Options(tmp_path, [f"insurance={version}"])
    session = HihSession(config)

    first = session.contract("insurance")
    assert first.version == version
    shutil.rmtree(tmp_path / "insurance")  # a second load would find no such interface
    assert session.contract("insurance") is first
    with pytest.raises(UsageError, match="unknown interface"):
        HihSession(config).contract("insurance")
