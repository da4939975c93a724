"""Maternal-child platform throughput: records checked per second by the reference connector (XSD + rules), and
uploads per second through the connector (zeep, outbox in SQLite, the platform mock's XSD and rule checks) singly
and in batches of 100. The mock is served in a child process on a loopback socket.

    .venv/bin/python bench/mch_load.py [--seconds 5] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connectors.mch_platform import MchPlatformConnector  # noqa: E402
from features.steps.mch_samples import sample  # noqa: E402
from harness.contract.loader import ContractStore  # noqa: E402
from harness.ports.mch_platform import MchSettings  # noqa: E402
from mocks.mch_platform import TEST_ORG_CODE, TEST_PASSWORD  # noqa: E402

TYPES = ("DELIVERY", "NEWBORN_SCREENING", "BIRTH_CERT_FIRST", "HIGH_RISK")


def serve(ready: Any) -> None:
    """The platform mock in this (child) process until killed; sends its service URL."""
    from mocks.registry import create_mock
    from mocks.transport.runtime import Runtime

    runtime = Runtime().start()
    mock = create_mock(ContractStore().load("mch-platform"))
    mock.journal = type(mock.journal)(1000)  # a bounded journal: the figure is the platform's work, not its memory
    mock.start(runtime)
    ready.send(mock.service_url)
    while True:
        time.sleep(3600)


def rate(seconds: float, step: Any) -> tuple[float, int]:
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        done += step()
    return done / (time.perf_counter() - start), done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    contract = ContractStore().load("mch-platform")
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.Process(target=serve, args=(child,), daemon=True)
    server.start()
    url = parent.recv()
    figures: dict[str, Any] = {"contract": contract.version}
    with tempfile.TemporaryDirectory() as folder:
        connector = MchPlatformConnector(MchSettings(f"{url}?wsdl", TEST_ORG_CODE, TEST_PASSWORD, f"{folder}/o.sqlite",
                                                     timeout_s=30, contract_folder=str(contract.folder)))
        built = [connector.build(sample(t, f"V{i:05d}")) for i, t in enumerate(TYPES)]
        n = iter(range(10**9))
        figures["validated_per_s"], _ = rate(args.seconds, lambda: sum(
            not connector.check(t, raw) for t, raw in zip(TYPES, built, strict=True)))
        figures["uploads_single_per_s"], _ = rate(args.seconds, lambda: int(
            connector.upload(sample("DELIVERY", f"S{next(n):07d}")).accepted))
        figures["uploads_batch100_per_s"], _ = rate(args.seconds, lambda: sum(
            r.accepted for r in connector.upload_batch([sample("DELIVERY", f"B{next(n):07d}") for _ in range(100)])))
        connector.close()
    server.kill()
    for key, value in figures.items():
        print(f"{key}: {value:,.0f}" if isinstance(value, float) else f"{key}: {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
