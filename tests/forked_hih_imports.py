"""What the fork server of tests/forked_hih.py imports before it forks: hih's command line, and what its `mock serve`
of each interface and its `proxy` import before their banner. A child finds them imported, those of the other
interfaces too: none acts as it is imported (no module of hih's reads the environment, the folder or the clock at
import)."""

from __future__ import annotations

import importlib

MODULES = ("harness.launch", "harness.cli", "mocks.serve", "harness.proxy.core", "harness.run.options",
    "harness.run.identity", "mocks.workers_auto", "mocks.self_service", "mocks.log_recovery",
    "mocks.transport.http", "mocks.transport.lean_http", "mocks.transport.soap", "mocks.transport.mllp",
    "mocks.insurance", "mocks.blood_center.service", "mocks.blood_center.console", "mocks.mch_platform",
    "mocks.lis", "mocks.pacs", "zeep", "zeep.wsdl", "requests_toolbelt", "hl7apy.base_datatypes", "ruamel.yaml",
    "uvloop", "uvicorn", "uvicorn.lifespan.off", "uvicorn.protocols.http.httptools_impl",
    "uvicorn.protocols.websockets.websockets_sansio_impl")

for _name in MODULES:
    importlib.import_module(_name)
