#!/usr/bin/env python3
"""CPU instructions the LIS and PACS mocks spend compiling their segment checks when they start (`HL7Validator.warm`,
run by every `hih run` that selects them), counted by valgrind (callgrind): a figure other load cannot skew.

A fresh process loads the LIS and PACS contracts (default versions) and the standard's segment definitions of their
HL7 versions, then warms both validators as the mocks' `start` does; the same process without the warm is counted
too, and the difference is the figure. The parse cache is filled by a run outside valgrind first. Instructions are
not time: compare commits with it, not machines. Needs valgrind; a count takes a minute or two.

    .venv/bin/python bench/hl7_warm_instructions.py                    # this checkout
    .venv/bin/python bench/hl7_warm_instructions.py --against /tmp/base  # another checkout (a `git archive`) first
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from callgrind_count import callgrind_instructions  # noqa: E402
from interleaved import checkout_parser, interleave, sides  # noqa: E402

HERE = Path(__file__).resolve().parents[1]
CHILD = """
import sys
from harness.contract.hl7 import standard
from harness.contract.hl7.contract import HL7Validator
from harness.contract.loader import ContractStore
store = ContractStore()
validators = [HL7Validator(store.load(name)) for name in ("lis", "pacs")]
for validator in validators:
    for version in validator.settings.versions:
        standard.segments(standard.library_version(version))
if sys.argv[1:] == ["--warm"]:
    for validator in validators:
        validator.warm()
print("done")
"""


def count(checkout: Path) -> int:
    """Instructions of the two validators' warm in `checkout`: the process with it less the process without."""
    with tempfile.TemporaryDirectory(prefix="hih-warm-instr-") as scratch:
        script = Path(scratch) / "warm.py"
        script.write_text(CHILD, encoding="utf-8")
        subprocess.run([sys.executable, str(script), "--warm"], cwd=checkout, capture_output=True, timeout=300,
                       check=True, env={**os.environ, "PYTHONPATH": str(checkout)})
        warm = callgrind_instructions([str(script), "--warm"], checkout, checkout, "done", 900)
        cold = callgrind_instructions([str(script)], checkout, checkout, "done", 900)
    return warm - cold


def main() -> int:
    parser = checkout_parser(__doc__.split("\n\n")[0], rounds=1)
    args = parser.parse_args()
    figures = interleave(args.rounds, sides(args.against, HERE), count,
                         lambda n, checkout, got: f"[{checkout}] round {n}: warm {got:,} instructions")
    for checkout, counts in figures.items():
        print(f"{checkout}: LIS and PACS validators' warm: min {min(counts):,} instructions over {len(counts)} count(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
