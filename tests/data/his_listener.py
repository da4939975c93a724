"""A stand-in for a hospital's own HL7 receiving side, in its own process: the reference LIS and PACS connectors'
listeners on loopback, each storing into a SQLite file. Prints `lis HOST:PORT` and `pacs HOST:PORT`, then serves
until its standard input closes. Used by the black-box run tests (HIH_LIS_LISTENER / HIH_PACS_LISTENER)."""

from __future__ import annotations

import sys
from pathlib import Path

from connectors.lis import reference as lis_reference
from connectors.pacs import reference as pacs_reference
from harness.contract.loader import ContractStore
from harness.ports.hl7 import Hl7Settings


def main(folder: Path) -> None:
    store = ContractStore()
    connectors = []
    for name, factory in (("lis", lis_reference), ("pacs", pacs_reference)):
        contract = store.load(name, None)
        # The partner address is never dialled: this process only receives.
        settings = Hl7Settings(host="127.0.0.1", port=9, store_path=str(folder / f"{name}.sqlite"),
                               contract_version=contract.version, contract_folder=str(contract.folder))
        connector = factory(settings)
        connectors.append(connector)
        host, port = connector.listener()
        print(f"{name} {host}:{port}", flush=True)
    sys.stdin.read()
    for connector in connectors:
        connector.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
