#!/usr/bin/env python3
"""Server CPU per 2207 settlement over a real socket: `hih mock serve --interface insurance` in its own process,
C keep-alive connections, the server's CPU time (from /proc) divided by the settlements it answered.

Throughput on a shared machine says more about the neighbours than about the code; the CPU the server spends per
settlement says much less about them. Each round settles a fresh batch of visits (made beforehand, not counted);
the best round is reported. To compare two commits, run both in one session, interleaved:

```sh
.venv/bin/python bench/settle_wire_cpu.py                                  # this checkout, 5 rounds of 3,000
PYTHONPATH=/tmp/base .venv/bin/python bench/settle_wire_cpu.py             # a `git archive` of another commit
.venv/bin/python bench/settle_wire_cpu.py --serve-arg=--workers=2          # summed over the workers
```
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Iterator

import uvloop
from insurance_load import Envelopes, HttpConn, Prepared, Setup, SpawnedMock, check_settlement, settle_data
from procstat import proc_cpu_s
from state_soak import rss_mib

from harness.contract.loader import ContractStore
from mocks.insurance import TEST_PAASID, TEST_SECRET


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of `pid` and its children (the workers of `--workers`)."""
    from pathlib import Path

    total = proc_cpu_s(pid) or 0.0
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return total + sum(proc_cpu_s(int(c)) or 0.0 for c in children)


async def rounds(args: argparse.Namespace, mock: SpawnedMock) -> list[float]:
    contract = ContractStore().load("insurance")
    env = Envelopes(contract, "127.0.0.1", mock.port, TEST_PAASID, TEST_SECRET)
    setup = Setup(env, "127.0.0.1", mock.port, 30)
    await setup.sign_in()
    results = []
    for _ in range(args.rounds):
        visits = await setup.settleables(args.settlements, args.conns, 300)
        now = time.time()
        prepared = [env.build("2207", settle_data(v), v.person.insuplc_admdvs, now) for v in visits]
        queue = iter(prepared)
        errors: list[str] = []

        async def loop(conn: HttpConn, queue: Iterator[Prepared], errors: list[str]) -> None:
            for item in queue:
                status, body = await conn.exchange(item.raw)
                verdict, detail = check_settlement(status, body, item.msgid)
                if verdict != "ok":
                    errors.append(detail)

        conns = [await HttpConn("127.0.0.1", mock.port).open() for _ in range(args.conns)]
        # with --workers, each worker reads the others' writes at least once a second: the setup's, before the round
        await asyncio.sleep(1.2)
        before = tree_cpu_s(mock.pid)
        await asyncio.gather(*(loop(c, queue, errors) for c in conns))
        used = tree_cpu_s(mock.pid) - before
        for c in conns:
            c.close()
        if errors:
            raise SystemExit(f"{len(errors)} settlements failed, first: {errors[0]}")
        results.append(used / len(prepared) * 1e6)
        print(f"  round: {results[-1]:.1f} us server CPU per settlement ({len(prepared)} settlements, "
              f"{args.conns} connections); RSS {rss_mib(mock.pid):.0f} MiB", flush=True)
    return results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--settlements", type=int, default=3000)
    ap.add_argument("--conns", type=int, default=8)
    ap.add_argument("--serve-arg", action="append", default=[], help="extra argument for `hih mock serve`")
    args = ap.parse_args()
    mock = SpawnedMock(args.serve_arg)
    try:
        results = uvloop.run(rounds(args, mock))
    finally:
        mock.stop()
    import harness

    print(f"best {min(results):.1f} us server CPU per settlement (median {sorted(results)[len(results) // 2]:.1f}) "
          f"of {args.rounds} rounds; code {harness.__file__.rsplit('/harness/', 1)[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
