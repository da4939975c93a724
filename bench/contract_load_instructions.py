#!/usr/bin/env python3
"""CPU instructions of a fresh process that loads one contract as a run does (the gate's check, a pytest process's
mock), counted by valgrind (callgrind): the interpreter's start, the contract's transport module imported, the
contract loaded (from the user's parse cache, filled by a load outside valgrind just before: YAML parsed and, from
the commit that remembers them, the checks passed); then the same with one message that breaks the envelope
validated (its findings come from jsonschema). Instructions are
not time, so compare commits with it, not machines. Needs valgrind; a count takes seconds.

`--run-process` counts instead what a run's pytest process pays on a cold cache (a run's first): a parse cache of
its own holding the contract's parsed YAML (the run parsed it) but no check's pass (the run is checking it at that
moment), and, where the checkout has `verdicts.vouch`, the folder vouched for as `--hih-contracts-checked` has it.

    .venv/bin/python bench/contract_load_instructions.py --against /tmp/base
    .venv/bin/python bench/contract_load_instructions.py --against /tmp/base --interface insurance --version 2023.1
    .venv/bin/python bench/contract_load_instructions.py --against /tmp/base --run-process
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
from harness.contract import verdicts
from harness.contract.loader import _ensure_formats, load_contract
folder = Path(sys.argv[1]).resolve()
_ensure_formats("http-json")
if sys.argv[2:] == ["--vouched"] and hasattr(verdicts, "vouch"):
    verdicts.vouch(folder)
contract = load_contract(folder)
if sys.argv[2:] == ["--invalid"]:
    findings = contract.extra["schema_set"].validate({"infno": "1101"}, contract.envelope["request"])
    assert findings, "the message breaks the envelope"
print("loaded", contract.ref, "jsonschema imported:", "jsonschema" in sys.modules)
"""


def count(checkout: Path, folder: Path, invalid: bool, run_process: bool = False) -> int:
    """Instructions of one load in `checkout`, after a load outside valgrind (which fills the parse cache; for
    `run_process`, a cache of its own, the checks' passes then taken out of it)."""
    with tempfile.TemporaryDirectory(prefix="hih-contract-instr-") as scratch:
        script = Path(scratch) / "load_one.py"
        script.write_text(CHILD, encoding="utf-8")
        args = [str(script), str(checkout / folder), *(["--invalid"] if invalid else [])]
        env = {**os.environ, "PYTHONPATH": str(checkout)}
        if run_process:
            cache = Path(scratch) / "cache"
            env["HIH_CACHE_DIR"] = str(cache)
        subprocess.run([sys.executable, *args], cwd=checkout, env=env, capture_output=True, timeout=120, check=True)
        if run_process:
            for entry in cache.iterdir():
                if entry.read_bytes() == b"T":  # marshal of True: a check's remembered pass
                    entry.unlink()
            args.append("--vouched")
            os.environ["HIH_CACHE_DIR"] = str(cache)  # for the counted process
            try:
                return callgrind_instructions(args, checkout, checkout, "loaded", 600)
            finally:
                del os.environ["HIH_CACHE_DIR"]
        return callgrind_instructions(args, checkout, checkout, "loaded", 600)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", type=Path, default=None, metavar="DIR", help="another checkout, counted first")
    parser.add_argument("--interface", default="insurance", help="a JSON-over-HTTP interface")
    parser.add_argument("--version", default="2024.1")
    parser.add_argument("--run-process", action="store_true", help="as a run's pytest process on a cold cache")
    args = parser.parse_args()
    folder = Path("contracts") / args.interface / args.version
    if args.run_process:
        for checkout in ([args.against] if args.against else []) + [HERE]:
            total = count(checkout, folder, False, run_process=True)
            print(f"[{checkout}] {args.interface} {args.version}, a run's pytest process on a cold cache: {total:,} "
                  "instructions", flush=True)
        return 0
    for invalid in (False, True):
        for checkout in ([args.against] if args.against else []) + [HERE]:
            total = count(checkout, folder, invalid)
            what = "load + one invalid message" if invalid else "load"
            print(f"[{checkout}] {args.interface} {args.version}, {what}: {total:,} instructions", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
