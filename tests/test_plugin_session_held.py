"""The hih plugin's session holds the contracts it loaded: a connector built in the session loads its settings'
folder and gets the session's contract, unread; once the session closes the folder is read as it is."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from connectors.insurance import InsuranceConnector
from harness.contract.loader import load_contract
from harness.plugin import HihSession
from harness.ports.insurance import InsuranceSettings
from tests.conftest import ROOT, edit
from tests.test_plugin_session import Options


def test_a_connector_of_the_session_gets_the_sessions_contract_until_it_closes(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "contracts" / "insurance" / "2024.1", tmp_path / "insurance" / "2024.1")
    folder = tmp_path / "insurance" / "2024.1"
    config: Any = Options(tmp_path, ["insurance=2024.1"])
    session = HihSession(config)
    contract = session.contract("insurance")
    settings = InsuranceSettings(base_url="http://127.0.0.1:9", paasid="p", secret="s", timeout_s=1.0,
                                 contract_version=contract.version, contract_folder=str(contract.folder))
    edit(folder / "contract.yaml", "title_en: National", "title_en: Edited National")

    connector = InsuranceConnector(settings)
    try:
        assert connector.contract is contract
    finally:
        connector.close()
    session.close()

    reloaded = load_contract(Path(settings.contract_folder))
    assert reloaded is not contract
    assert reloaded.title_en.startswith("Edited National")
