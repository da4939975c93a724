#!/usr/bin/env python3
"""CPU instructions a run's pytest process spends per scenario on the connector's own set-up and tear-down, counted
by valgrind (callgrind), so that other load on a shared machine cannot skew the figure.

One process (all its threads counted: the mock's server thread too) does what the hih plugin does for each scenario
of `hih run --interface insurance`, N times: reset the session's mock, build the settings and the reference
connector (`connectors.insurance:reference`) from the session's contract, watch it for the scenario deadline,
optionally make one lookup (1101, with its sign-in: the connection's cost shows here), close it. The session is
`harness.plugin.HihSession` as a run's pytest process makes it, its mock on a loopback socket. Counted for N = 1
and N = 1 + `--scenarios`; the difference over `--scenarios` is the figure per scenario, the interpreter's start,
the imports and the first scenario's one-off work left out.

    .venv/bin/python bench/connector_setup_instructions.py --against /tmp/base              # set-up and close
    .venv/bin/python bench/connector_setup_instructions.py --against /tmp/base --lookup     # and one lookup each
    .venv/bin/python bench/connector_setup_instructions.py --against /tmp/base --first      # the first scenario's

`--first` gives the first scenario's instead: N = 1 less N = 0, its one-off work included (the first connector's
client, its TLS context), as a run's pytest process does it before its first scenario.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from callgrind_count import callgrind_instructions  # noqa: E402
from interleaved import interleave, sides  # noqa: E402
from plugin_session import SESSION  # noqa: E402

HERE = Path(__file__).resolve().parents[1]
CHILD = SESSION + """
import sys, tempfile, shutil
from pathlib import Path
from harness.bindings import connector_settings, load_factory
from harness.ports.insurance import Certificate
from harness.run import deadline

scenarios, lookup = int(sys.argv[1]), sys.argv[2] == "lookup"
session = HihSession(Options())
contract = session.contract("insurance")
mock = session.mock("insurance")
factory = load_factory("connectors.insurance:reference")
seeded = mock.person("employee")
cert = Certificate("03", seeded.card_no, seeded.card_sn)
for _ in range(scenarios):
    mock.reset()
    workdir = Path(tempfile.mkdtemp(prefix="bench-connector-"))
    settings = connector_settings("insurance")(mock, session.contract("insurance"), 5.0, workdir)
    connector = deadline.watch(factory(settings), "insurance")
    if lookup:
        connector.query_person(cert)
    connector.close()
    shutil.rmtree(workdir)
session.close()
print("done", scenarios)
"""


def count(checkout: Path, scenarios: int, lookup: bool) -> int:
    return callgrind_instructions(["-c", CHILD, str(scenarios), "lookup" if lookup else "setup"], checkout, checkout,
                                  "done", timeout_s=900)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", type=Path, default=None, metavar="DIR", help="another checkout, counted first")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--scenarios", type=int, default=20)
    parser.add_argument("--lookup", action="store_true", help="one lookup (sign-in and 1101) in each scenario")
    parser.add_argument("--first", action="store_true", help="the first scenario's, its one-off work included")
    args = parser.parse_args()

    def per_scenario(checkout: Path) -> float:
        one = count(checkout, 1, args.lookup)
        if args.first:
            return one - count(checkout, 0, args.lookup)
        return (count(checkout, 1 + args.scenarios, args.lookup) - one) / args.scenarios

    figures = interleave(args.rounds, sides(args.against, HERE), per_scenario,
                         lambda n, checkout, got: f"[{n}] {checkout}: {got:,.0f} instructions a scenario")
    for checkout, values in figures.items():
        print(f"{checkout}: median {statistics.median(values):,.0f} instructions {'the first' if args.first else 'a'} "
              f"scenario ({'set-up, one lookup, close' if args.lookup else 'set-up and close'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
