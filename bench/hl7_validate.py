"""HL7 v2 validation throughput: parse-only and parse+validate messages per second, one core.

The message is an ORU^R01 (HL7 v2.5.1) with 20 OBX, Chinese text, UTF-8, valid against contracts/lis/2024.1
(the target: 8,000 validated messages/s or more on one core, HL7 standard definitions included). Times are CPU seconds of this process,
so other load on the machine costs little; `--cpu N` pins the process to one core.

    .venv/bin/python bench/hl7_validate.py                  # 3 s per measurement
    .venv/bin/python bench/hl7_validate.py --seconds 10 --cpu 0 --json bench/results/hl7_validate.json
    .venv/bin/python bench/hl7_validate.py --hl7apy         # adds hl7apy parse (+ validate) for comparison
    .venv/bin/python bench/hl7_validate.py --file capture.hl7 --interface lis --contract-version 2023.1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.contract.hl7.contract import HL7Validator  # noqa: E402
from harness.contract.hl7.message import parse  # noqa: E402
from harness.contract.loader import ContractStore  # noqa: E402

TARGET = 8000
"""Validated messages per second of CPU time, one core."""


def oru_r01(results: int = 20) -> bytes:
    """An ORU^R01 v2.5.1 with `results` numeric OBX, one flagged HH (a critical value)."""
    segments = [
        "MSH|^~\\&|LIS|LAB|HIS|HOSP|20240105101500||ORU^R01^ORU_R01|LIS0001|P|2.5.1|||||CHN|UNICODE UTF-8",
        "PID|1||0001234567^^^HOSP^MR~110101199003071234^^^CHN^NNCHN||张三||19900307|M",
        "PV1|1|O|NEI^101^3||||||||||||||||V20240105001",
        "ORC|RE|HIS20240105001|LIS20240105001||CM||||20240105101500",
        "OBR|1|HIS20240105001|LIS20240105001|CBC^血常规^L|||20240105080000|||||||||||||||20240105101500|||F",
    ]
    for i in range(1, results + 1):
        flag = "HH" if i == 2 else "N"
        segments.append(f"OBX|{i}|NM|WBC{i}^白细胞计数{i}^L||{6.5 + i / 10:.1f}|10*9/L^^UCUM|3.5-9.5|{flag}|||F|||"
                         "20240105090000")
    return ("\r".join(segments) + "\r").encode("utf-8")


def rate(fn: Callable[[], object], seconds: float) -> tuple[float, int]:
    """Calls per CPU second of `fn`, after a short warm-up; (rate, calls)."""
    for _ in range(50):
        fn()
    calls = 0
    batch = 100
    start = time.process_time()
    while True:
        for _ in range(batch):
            fn()
        calls += batch
        spent = time.process_time() - start
        if spent >= seconds:
            return calls / spent, calls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="CPU seconds per measurement (default 3)")
    parser.add_argument("--results", type=int, default=20, help="OBX segments in the ORU^R01 (default 20)")
    parser.add_argument("--file", type=Path, help="measure this captured message instead (one message, bytes)")
    parser.add_argument("--interface", default="lis")
    parser.add_argument("--contract-version", default="2024.1")
    parser.add_argument("--cpu", type=int, help="pin the process to this core")
    parser.add_argument("--hl7apy", action="store_true", help="also measure hl7apy (slow: ~10 messages/s)")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args(argv)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})

    validator = HL7Validator(ContractStore(ROOT / "contracts").load(args.interface, args.contract_version))
    raw = args.file.read_bytes() if args.file else oru_r01(args.results)
    checked = validator.check(raw)
    if checked.operation is None:
        print(f"the message does not route in {validator.contract.ref}: {[str(f) for f in checked.findings]}")
        return 2
    text = raw.decode("utf-8")
    figures: dict[str, float] = {}
    rows = [
        ("parse (text -> segments)", lambda: parse(text)),
        ("decode + parse (bytes, MSH-18)", lambda: validator.decode(raw)),
        ("decode + parse + validate", lambda: validator.check(raw)),
    ]
    if args.hl7apy:
        from hl7apy.parser import parse_message

        er7 = text.rstrip("\r")
        rows.append(("hl7apy parse_message", lambda: parse_message(er7)))
        rows.append(("hl7apy parse + validate()", lambda: parse_message(er7).validate()))

    print(f"message: {checked.operation}, {len(raw)} bytes, {len(checked.message.segments)} segments, "
          f"{len(checked.message.all('OBX'))} OBX; contract {validator.contract.ref}; "
          f"{len(checked.findings)} findings")
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs; "
          f"{args.seconds:g} CPU s per row")
    for name, fn in rows:
        seconds = args.seconds if not name.startswith("hl7apy") else min(args.seconds, 3.0)
        per_second, calls = rate(fn, seconds)
        figures[name] = round(per_second, 1)
        print(f"  {name:<34} {per_second:>10,.0f} msg/s  ({1e6 / per_second:,.1f} µs/msg, {calls} calls)")
    target = figures["decode + parse + validate"]
    verdict = "meets" if target >= TARGET else "MISSES"
    print(f"target {TARGET:,} validated msg/s on one core: {verdict} ({target:,.0f})")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "message": {"operation": checked.operation, "bytes": len(raw), "segments": len(checked.message.segments)},
            "contract": validator.contract.ref, "python": platform.python_version(), "cpu_seconds": args.seconds,
            "msgs_per_s": figures,
        }, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return 0 if target >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
