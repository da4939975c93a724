"""CPU per request of the insurance mock's ASGI app in-process (no socket, no HTTP server): the transport, the
input limits, the signature check, the contract checks, the ledger and the journal, for a signed 1101 query.

```sh
.venv/bin/python bench/transport_cpu.py                        # this checkout
PYTHONPATH=/tmp/base .venv/bin/python bench/transport_cpu.py   # another commit (`git archive COMMIT | tar -x -C /tmp/base`)
```
Prints the best of `--rounds` rounds of `--requests` requests, in microseconds of process CPU per request, and the
`harness` it measured. Compare commits in the same session, interleaved: this machine's speed drifts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.append(str(Path(__file__).resolve().parents[1]))  # appended: PYTHONPATH picks the code under test

import harness  # noqa: E402
from harness.contract.loader import ContractStore  # noqa: E402
from harness.contract.signing import tif_headers  # noqa: E402
from mocks.insurance import TEST_PAASID, TEST_SECRET, InsuranceMock  # noqa: E402
from tests.conftest import envelope  # noqa: E402

QUERY = "/fsi/api/fsiPsnInfoService/queryPsnInfo"
SIGN_IN = "/fsi/api/signInSignOutService/signIn"


async def call(app: Any, path: str, body: bytes, headers: dict[str, str]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return messages.pop() if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": path, "query_string": b"", "client": ("127.0.0.1", 1),
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
    await app(scope, receive, send)
    return sent


async def round_us(requests: int) -> float:
    contract = ContractStore().load("insurance")
    mock = InsuranceMock(contract)
    app = mock.asgi_app()
    extra = {"content-type": "application/json;charset=utf-8", "host": "127.0.0.1:8080", "user-agent": "bench"}
    signed = await call(app, SIGN_IN, json.dumps(envelope("9001", {"signIn": {"opter_no": "1", "ip": "1"}})).encode(),
                        {**tif_headers(contract.signing, TEST_PAASID, TEST_SECRET), **extra})
    sign_no = json.loads(signed[1]["body"])["output"]["signinoutb"]["sign_no"]
    person = mock.person("resident")
    prepared = [(json.dumps(envelope("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": person.certno}},
                                     sign_no=sign_no)).encode(),
                 {**tif_headers(contract.signing, TEST_PAASID, TEST_SECRET), **extra}) for _ in range(requests)]
    started = time.process_time()
    for body, headers in prepared:
        await call(app, QUERY, body, headers)
    return (time.process_time() - started) / requests * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    best = min(asyncio.run(round_us(args.requests)) for _ in range(args.rounds))
    print(f"{best:.1f} us CPU per request  ({Path(harness.__file__).parent.parent})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
