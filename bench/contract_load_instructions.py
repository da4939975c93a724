#!/usr/bin/env python3
"""CPU instructions of a fresh process that loads one contract as a run does (the gate's check, a pytest process's
mock), counted by valgrind (callgrind): the interpreter's start, the contract's transport module imported, the
contract loaded (from the user's parse cache, filled by a load outside valgrind just before: YAML parsed and, from
the commit that remembers them, the checks passed); then the same with one message that breaks the envelope
validated (its findings come from jsonschema). Instructions are
not time, so compare commits with it, not machines. Needs valgrind; a count takes seconds.

    .venv/bin/python bench/contract_load_instructions.py --against /tmp/base
    .venv/bin/python bench/contract_load_instructions.py --against /tmp/base --interface insurance --version 2023.1
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from callgrind_count import callgrind_instructions  # noqa: E402

HERE = Path(__file__).resolve().parents[1]
CHILD = """
import sys
from pathlib import Path
from harness.contract.loader import _ensure_formats, load_contract
folder = Path(sys.argv[1]).resolve()
_ensure_formats("http-json")
contract = load_contract(folder)
if len(sys.argv) > 2:
    findings = contract.extra["schema_set"].validate({"infno": "1101"}, contract.envelope["request"])
    assert findings, "the message breaks the envelope"
print("loaded", contract.ref, "jsonschema imported:", "jsonschema" in sys.modules)
"""


def count(checkout: Path, folder: Path, invalid: bool) -> int:
    """Instructions of one load in `checkout`, after a load outside valgrind (which fills the parse cache)."""
    with tempfile.TemporaryDirectory(prefix="hih-contract-instr-") as scratch:
        script = Path(scratch) / "load_one.py"
        script.write_text(CHILD, encoding="utf-8")
        args = [str(script), str(checkout / folder), *(["--invalid"] if invalid else [])]
        subprocess.run([sys.executable, *args], cwd=checkout, env={**os.environ, "PYTHONPATH": str(checkout)},
                       capture_output=True, timeout=120, check=True)
        return callgrind_instructions(args, checkout, checkout, "loaded", 600)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", type=Path, default=None, metavar="DIR", help="another checkout, counted first")
    parser.add_argument("--interface", default="insurance", help="a JSON-over-HTTP interface")
    parser.add_argument("--version", default="2024.1")
    args = parser.parse_args()
    folder = Path("contracts") / args.interface / args.version
    for invalid in (False, True):
        for checkout in ([args.against] if args.against else []) + [HERE]:
            total = count(checkout, folder, invalid)
            what = "load + one invalid message" if invalid else "load"
            print(f"[{checkout}] {args.interface} {args.version}, {what}: {total:,} instructions", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
