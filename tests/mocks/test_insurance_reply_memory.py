"""What a kept reply of the insurance mock weighs: the journal keeps every reply's bytes, so each must cost about
its length (orjson's bytes keep the whole buffer they were written into, 32 KiB for a 2.5 KB reply)."""

from __future__ import annotations

import tracemalloc
from typing import Any

from harness.contract.model import Contract
from mocks.insurance import InsuranceMock


def test_a_kept_reply_weighs_about_its_length(contract_2024: Contract) -> None:
    mock = InsuranceMock(contract_2024)
    output = {"setlinfo": {f"amount_{n}": n / 3 for n in range(45)},
              "setldetail": [{"fund_pay_type": "310100", "fund_payamt": 49.0}]}
    body: dict[str, Any] = {"infcode": 0, "err_msg": "", "output": output}
    mock._json(body)  # warm-up: first-call allocations are not the reply's
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [mock._json(body) for _ in range(200)]
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    length = len(kept[0].body)
    assert length > 1_000 and kept[0].body == kept[-1].body
    per_reply = grown / len(kept)
    assert per_reply < length + 1_024, f"a kept reply of {length} bytes holds {per_reply:.0f} bytes"
