"""A mock process for the memory-growth test: serves one mock on a loopback socket, sends it a stream of large
requests from the same process, and prints how much memory grew.

`python -m tests.mocks.memory_child insurance|blood-center COUNT` prints one JSON line: traced Python memory and RSS
after a warm-up and after COUNT large requests (each collected with gc first), and the journal's byte estimate.
"""

from __future__ import annotations

import gc
import json
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import httpx

from harness.contract.loader import ContractStore
from harness.contract.signing import tif_headers
from mocks.registry import create_mock
from mocks.transport.runtime import Runtime
from tests.conftest import envelope

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20


def insurance_requests(url: str, signing: object) -> list[Callable[[httpx.Client], httpx.Response]]:
    """Signed requests whose body is parsed and validated (6 MiB strings), and unsigned 8 MiB ones (refused)."""
    path = f"{url}/fsi/api/signInSignOutService/signIn"
    signed_body = json.dumps(envelope("9001", {"signIn": {"opter_no": "1" * 3 * 2**20, "ip": "2" * 3 * 2**20}})).encode()
    unsigned_body = b'{"infno":"9001","pad":"' + b"x" * (8 * 2**20 - 40) + b'"}'

    def signed(client: httpx.Client) -> httpx.Response:
        headers = {**tif_headers(signing, "HIH_TEST_PAAS", "hih-test-secret-not-for-production"),  # type: ignore[arg-type]
                   "Content-Type": "application/json"}
        return client.post(path, content=signed_body, headers=headers)

    def unsigned(client: httpx.Client) -> httpx.Response:
        return client.post(path, content=unsigned_body, headers={"Content-Type": "application/json"})

    return [signed, unsigned]


def blood_center_requests(url: str) -> list[Callable[[httpx.Client], httpx.Response]]:
    """Envelopes just under the contract's 1 MiB limit: parsed, validated and refused by the schema."""
    order_no = "A" * (2**20 - 600)
    body = (f'<s:Envelope xmlns:s="{SOAP11}" xmlns:t="urn:hih:blood-center:service"><s:Header><t:AuthHeader>'
            "<t:HospitalCode>H32010200001</t:HospitalCode><t:Token>hih-blood-center-test-token</t:Token></t:AuthHeader>"
            f"</s:Header><s:Body><t:QueryOrderFeedback><t:orderNo>{order_no}</t:orderNo></t:QueryOrderFeedback>"
            "</s:Body></s:Envelope>").encode()

    def post(client: httpx.Client) -> httpx.Response:
        return client.post(f"{url}/BloodCenterService", content=body, headers={
            "Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"urn:hih:blood-center:QueryOrderFeedback"'})

    return [post]


def main(argv: list[str]) -> int:
    interface, count = argv[0], int(argv[1])
    tracemalloc.start()
    runtime = Runtime().start()
    mock = create_mock(ContractStore(CONTRACTS).load(interface))
    endpoint = mock.start(runtime)
    senders = (insurance_requests(endpoint.url, mock.contract.signing) if interface == "insurance"
               else blood_center_requests(endpoint.url))
    statuses: set[int] = set()
    with httpx.Client(timeout=30) as client:
        for send in senders * 3:  # warm up: code paths, connection, allocator arenas
            statuses.add(send(client).status_code)
        gc.collect()
        traced_before, rss_before = tracemalloc.get_traced_memory()[0], rss_mib()
        for n in range(count):
            statuses.add(senders[n % len(senders)](client).status_code)
        gc.collect()
        traced_after, rss_after = tracemalloc.get_traced_memory()[0], rss_mib()
    print(json.dumps({"traced_growth_mib": (traced_after - traced_before) / 2**20, "rss_before_mib": rss_before,
                      "rss_growth_mib": rss_after - rss_before, "journal_entries": len(mock.journal),
                      "journal_bytes": mock.journal.bytes, "statuses": sorted(statuses)}), flush=True)
    runtime.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
