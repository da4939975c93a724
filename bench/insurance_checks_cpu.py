#!/usr/bin/env python3
"""CPU of the insurance mock's per-message checks, one core, no sockets: the native schema verdict on each captured
message (tests/data/captures, contract 2024.1), with whole-number bounds first (what the mock does) and with the
exact schema alone (what it did), and the memory the TIF nonce window takes per remembered request.

```sh
.venv/bin/python bench/insurance_checks_cpu.py               # best of 5 rounds of 3,000 checks per message
.venv/bin/python bench/insurance_checks_cpu.py --nonces 1000000
PYTHONPATH=/tmp/base .venv/bin/python bench/insurance_checks_cpu.py --nonces-only   # another commit's nonce window
```
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import time
import timeit
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.append(str(ROOT))  # appended: PYTHONPATH picks the code under test

from harness.contract.json_schemas import SchemaSet  # noqa: E402
from harness.contract.loader import ContractStore  # noqa: E402
from harness.contract.signing import NonceWindow  # noqa: E402


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pairs(contract: Any) -> list[tuple[str, str, Any]]:
    """(capture, schema file, instance) for every captured message and its transaction's schema."""
    out = []
    for path in sorted((ROOT / "tests/data/captures").glob("*.json")):
        body = json.loads(path.read_bytes())
        infno = path.stem.split("-")[0]
        op = contract.operations.get(infno)
        if "infno" in body and "infcode" not in body and op is not None and op.input_schema:
            out.append((path.stem, op.input_schema, body.get("input")))
        elif op is not None and op.output_schema and body.get("output") is not None:
            out.append((path.stem, op.output_schema, body["output"]))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--number", type=int, default=3000)
    ap.add_argument("--nonces", type=int, default=500_000)
    ap.add_argument("--nonces-only", action="store_true", help="only the nonce window (any commit)")
    args = ap.parse_args()
    if not args.nonces_only:
        checks(args.number)
    nonces(args.nonces)
    return 0


def checks(number: int) -> None:
    contract = ContractStore().load("insurance", "2024.1")
    schemas: SchemaSet = contract.extra["schema_set"]
    print("message            schema check, µs: as served (whole bounds first) / exact schema alone")
    for name, relpath, instance in pairs(contract):
        schemas.is_valid(instance, relpath)
        _, exact = schemas._fast[relpath]
        assert schemas.is_valid(instance, relpath), f"{name} is not valid"
        served = min(timeit.repeat(lambda: schemas.is_valid(instance, relpath), number=number, repeat=5))  # noqa: B023
        alone = min(timeit.repeat(lambda: exact.is_valid(instance), number=number, repeat=5))  # noqa: B023
        print(f"{name:18s} {served / number * 1e6:8.2f} / {alone / number * 1e6:8.2f}")


def nonces(count: int) -> None:
    before = rss_mib()
    window = NonceWindow(capacity=count + 1)
    now = int(time.time())
    for i in range(count):
        window.add(secrets.token_hex(16), now + 300 + i // 3000)
    grown = (rss_mib() - before) * 2**20
    print(f"nonce window: {count:,} nonces (secrets.token_hex(16), 3,000 a second) grew the process by "
          f"{grown / 2**20:.1f} MiB = {grown / count:.0f} bytes a nonce")


if __name__ == "__main__":
    sys.exit(main())
