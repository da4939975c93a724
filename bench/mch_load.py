"""Maternal-child platform throughput: records checked per second by the reference connector (XSD + rules), and
uploads per second through the connector (zeep, outbox in SQLite, the platform mock's XSD and rule checks) singly
and in batches of 100. The mock is served in a child process on a loopback socket.

    .venv/bin/python bench/mch_load.py [--seconds 5] [--json FILE]

`--conns 8,64` instead puts the served platform under load over the wire, as `blood_center_load.py` does the blood
centre: `hih mock serve --interface mch-platform [--workers N]` in a child process, C keep-alive connections with
one call in flight each, UploadRecord (a delivery record with a new record number each call: XSD, the platform's
rules, duplicate check, stored) and QueryUploadResult (one record uploaded before the run: audited, read back);
every reply checked (HTTP 200, ResultCode 0); calls/s, p50/p99/max, the serving processes' CPU.

    .venv/bin/python bench/mch_load.py --conns 8,64 --workers 2 [--warmup 2] [--duration 5] [--json FILE]
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connectors.mch_platform import MchPlatformConnector  # noqa: E402
from features.steps.mch_samples import sample  # noqa: E402
from harness.contract.loader import ContractStore  # noqa: E402
from harness.ports.mch_platform import MchSettings  # noqa: E402
from mocks.mch_platform import TEST_ORG_CODE, TEST_PASSWORD  # noqa: E402

TYPES = ("DELIVERY", "NEWBORN_SCREENING", "BIRTH_CERT_FIRST", "HIGH_RISK")
PATH = "/MchPlatformService"
NS = "urn:hih:mch:service"
OPEN = f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="{NS}">'
OK = b"<ns0:ResultCode>0</ns0:ResultCode>"


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


def _call(url: str, action: str, envelope: str) -> bytes:
    import httpx

    reply = httpx.post(url, content=envelope.encode(), timeout=10,
                       headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"urn:hih:mch:{action}"'})
    return reply.content


def wire(args: argparse.Namespace) -> int:
    """The served platform under load over the wire (see the module's docstring)."""
    from bench.blood_center_load import levels, serve

    process, base = serve(None, args.workers, "mch-platform")
    results: list[dict[str, Any]] = []
    try:
        builds = requests(base)
        where = urlsplit(base)
        print(f"--workers {args.workers}; load average {os.getloadavg()[0]:.2f}")
        results += levels(where.hostname or "127.0.0.1", where.port or 80, args, builds.__getitem__, OK, process.pid)
    finally:
        process.terminate()
        process.wait(10)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"workers": args.workers, "levels": results}, indent=2))
    return 1 if any(r["errors"] for r in results) else 0


def requests(base: str) -> dict[str, Callable[[], bytes]]:
    """The wire requests of the platform served at `base`, by operation: UploadRecord (a delivery record with a new
    record number each call) and QueryUploadResult (one record, uploaded here first); logs in for the session."""
    from bench.blood_center_load import post

    url = base + PATH
    login = (f"{OPEN}<s:Body><t:Login><t:orgCode>{TEST_ORG_CODE}</t:orgCode><t:password>{TEST_PASSWORD}</t:password>"
             "</t:Login></s:Body></s:Envelope>")
    answer = _call(url, "Login", login)
    key = answer.split(b"<ns0:sessionKey>")[1].split(b"<")[0].decode()
    head = (f"{OPEN}<s:Header><t:SessionHeader><t:orgCode>{TEST_ORG_CODE}</t:orgCode><t:sessionKey>{key}</t:sessionKey>"
            "</t:SessionHeader></s:Header><s:Body>")
    template = escape(_record("W{no:09d}"))

    def upload(no: int) -> str:
        return (f"{head}<t:UploadRecord><t:recordType>DELIVERY</t:recordType><t:payload>{template.format(no=no)}"
                "</t:payload></t:UploadRecord></s:Body></s:Envelope>")

    assert OK in _call(url, "UploadRecord", upload(0)), "the first upload was refused"
    query = (f"{head}<t:QueryUploadResult><t:recordType>DELIVERY</t:recordType><t:recordNo>W000000000</t:recordNo>"
             "</t:QueryUploadResult></s:Body></s:Envelope>")
    assert OK in _call(url, "QueryUploadResult", query), "the uploaded record was not found"
    numbers = itertools.count(1)
    return {"UploadRecord": lambda: post(PATH, "urn:hih:mch:UploadRecord", upload(next(numbers))),
            "QueryUploadResult": lambda: post(PATH, "urn:hih:mch:QueryUploadResult", query)}


def _record(number: str) -> str:
    """A delivery record as the reference connector builds it, numbered `number` (a format field)."""
    contract = ContractStore().load("mch-platform")
    with tempfile.TemporaryDirectory() as folder:
        connector = MchPlatformConnector(MchSettings("http://127.0.0.1:9/x?wsdl", TEST_ORG_CODE, TEST_PASSWORD,
                                                     f"{folder}/o.sqlite", timeout_s=5, contract_folder=str(contract.folder)))
        built = connector.build(sample("DELIVERY", "NUMBER0001"))
        connector.close()
    return built.decode("utf-8").replace("{", "{{").replace("}", "}}").replace("NUMBER0001", number)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--conns", help="over the wire at these connection counts (e.g. 8,64) instead")
    parser.add_argument("--workers", default="1", help="with --conns: hih mock serve --workers (N or auto)")
    parser.add_argument("--operations", default="UploadRecord,QueryUploadResult")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--duration", type=float, default=5.0)
    args = parser.parse_args()
    if args.conns:
        return wire(args)
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
