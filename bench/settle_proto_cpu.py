#!/usr/bin/env python3
"""CPU per 2207 settlement inside the insurance mock, without sockets: the mock's lean HTTP protocol fed each
signed request from memory, as `hih mock serve` builds the mock (bounded tables, journal on), every reply checked.

`settle_wire_cpu.py` measures the server over a real socket (kernel send and receive included); this script leaves
the kernel out, so it shows what the Python side costs and can be profiled (`--profile FILE` writes a cProfile of
one more round). Each round settles fresh visits registered and charged beforehand (2201 and 2204, not counted);
the best round is reported in µs of this process's CPU per settlement. Compare commits in one session, interleaved:

```sh
.venv/bin/python bench/settle_proto_cpu.py                                   # 5 rounds of 3,000
PYTHONPATH=/tmp/base .venv/bin/python bench/settle_proto_cpu.py              # a `git archive` of another commit
.venv/bin/python bench/settle_proto_cpu.py --profile /tmp/settle.prof        # then: python -m pstats /tmp/settle.prof
.venv/bin/python bench/settle_proto_cpu.py --workers 2                       # two workers' stores, in turns, summed
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=/tmp/settle.cg \
  .venv/bin/python bench/settle_proto_cpu.py --callgrind --rounds 1 --settlements 300   # instructions, see below
```
With `--workers N` the settlements go in turns to N mocks that keep one ledger as `hih mock serve --workers N`
does (`mocks.insurance_store`, one state, one process here): the figure is their CPU together, so catching up
with the others' writes counts. With `--callgrind` (under valgrind as shown), only the timed settlements are counted: `callgrind_annotate
/tmp/settle.cg | head` gives the instructions (Ir), to divide by the settlements; on a machine shared with other
work this is the figure to compare commits by (CPU time there swings by half from run to run).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.append(str(Path(__file__).resolve().parent))
sys.path.append(str(Path(__file__).resolve().parents[1]))  # appended: PYTHONPATH picks the code under test

from insurance_load import (  # noqa: E402
    Envelopes,
    Prepared,
    Settleable,
    check_settlement,
    fees_data,
    register_data,
    settle_data,
)

import harness  # noqa: E402
from harness.contract.loader import ContractStore  # noqa: E402
from mocks.insurance import TEST_PAASID, TEST_SECRET, InsuranceMock  # noqa: E402
from mocks.insurance_store import InsuranceLogStore  # noqa: E402
from mocks.population import generate  # noqa: E402
from mocks.state import DEFAULT_MAX_ROWS  # noqa: E402
from mocks.transport.lean_http import LeanServer  # noqa: E402
from mocks.transport.limits import InputLimits  # noqa: E402


class MemoryTransport(asyncio.Transport):
    """What the protocol writes, kept in memory."""

    def __init__(self) -> None:
        super().__init__()
        self.out = bytearray()
        self.closed = False

    def write(self, data: Any) -> None:
        self.out += data

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8080)}.get(name, default)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class Connection:
    """One keep-alive connection to the mock's protocol: a request in, its reply out."""

    def __init__(self, server: LeanServer) -> None:
        self.transport = MemoryTransport()
        self.protocol = server()
        self.protocol.connection_made(self.transport)

    async def exchange(self, raw: bytes) -> tuple[int, bytes]:
        self.transport.out.clear()
        self.protocol.data_received(raw)
        while self.protocol.running is not None:
            await asyncio.sleep(0)
        out = bytes(self.transport.out)
        head, _, body = out.partition(b"\r\n\r\n")
        return int(head[9:12]), body


async def call(conn: Connection, env: Envelopes, infno: str, data: dict[str, Any], insuplc: str | None = None) -> Any:
    status, body = await conn.exchange(env.build(infno, data, insuplc).raw)
    reply = orjson.loads(body)
    if status != 200 or reply["infcode"] != 0:
        raise SystemExit(f"setup {infno}: HTTP {status}: {reply.get('err_msg')}")
    return reply


async def settleables(conn: Connection, env: Envelopes, start: int, count: int) -> list[Settleable]:
    people = [p for p in generate() if p.psn_insu_stas == "1"]
    made = []
    for n in range(start, start + count):
        person = people[n % len(people)]
        now = time.strftime("%Y-%m-%d %H:%M:%S")
        reply = await call(conn, env, "2201", register_data(env.run_id, person, n, now), person.insuplc_admdvs)
        visit = Settleable(person, reply["output"]["data"]["mdtrt_id"], f"CB{env.run_id}{n:09d}")
        await call(conn, env, "2204", fees_data(visit, now), person.insuplc_admdvs)
        made.append(visit)
    return made


async def rounds(args: argparse.Namespace) -> list[float]:
    contract = ContractStore().load("insurance")
    scratch = Path(tempfile.mkdtemp(prefix="hih-settle-"))
    mocks: list[InsuranceMock] = []
    try:
        for index in range(args.workers):
            shared = InsuranceLogStore(scratch / "state.sqlite", durable=False, worker=(index, args.workers))
            mock = InsuranceMock(contract, shared if args.workers > 1 else None)
            if args.workers > 1:
                mock.share(index, args.workers, scratch / "state.sqlite")
            mock.limit_state(args.max_rows)
            mocks.append(mock)
        conns = [Connection(LeanServer(m.asgi_app(), InputLimits.of(contract), asyncio.get_running_loop())) for m in mocks]
        conn = conns[0]
        env = Envelopes(contract, "127.0.0.1", 8080, TEST_PAASID, TEST_SECRET)
        reply = await call(conn, env, "9001", {"signIn": {"opter_no": "100234", "mac": "00-16-3E-00-00-01", "ip": "127.0.0.1"}})
        env.sign_no = reply["output"]["signinoutb"]["sign_no"]
        results = []
        made = 0
        for n in range(args.rounds + (1 if args.profile else 0)):
            visits = await settleables(conn, env, made, args.settlements)
            made += len(visits)
            now = time.time()
            prepared: list[Prepared] = [env.build("2207", settle_data(v), v.person.insuplc_admdvs, now) for v in visits]
            replies = []
            for mock in mocks[1:]:  # the others read the setup's writes now, as `hih mock serve` has each worker do once a second
                mock.store.sync()  # type: ignore[attr-defined]
            gc.freeze()  # as `hih mock serve` does every second: the ledger out of the collector's reach
            profile = cProfile.Profile() if args.profile and n == args.rounds else None
            if args.callgrind:
                subprocess.run(["callgrind_control", "--instr=on", str(os.getpid())], check=True, capture_output=True)
            started = time.process_time()
            if profile is not None:
                profile.enable()
            for at, item in enumerate(prepared):
                replies.append(await conns[at % len(conns)].exchange(item.raw))
            if args.callgrind:
                subprocess.run(["callgrind_control", "--instr=off", str(os.getpid())], check=True, capture_output=True)
            if profile is not None:
                profile.disable()
                profile.dump_stats(args.profile)
                print(f"  profile of one round written to {args.profile}")
                continue
            used = time.process_time() - started
            for item, (status, body) in zip(prepared, replies, strict=True):
                verdict, detail = check_settlement(status, body, item.msgid)
                if verdict != "ok":
                    raise SystemExit(f"a settlement failed: {detail}")
            results.append(used / len(prepared) * 1e6)
            print(f"  round: {results[-1]:.1f} us CPU per settlement ({len(prepared)} settlements; "
                  f"{mocks[-1].store.count('visits')} visits kept)", flush=True)
        return results
    finally:  # the scratch folder goes whatever happened (a failed settlement, ^C)
        for mock in mocks:
            mock.store.close()
        shutil.rmtree(scratch, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--settlements", type=int, default=3000)
    ap.add_argument("--max-rows", type=int, default=DEFAULT_MAX_ROWS)
    ap.add_argument("--workers", type=int, default=1, help="mocks keeping one ledger as --workers processes do")
    ap.add_argument("--profile", help="write a cProfile of one more round to this file")
    ap.add_argument("--callgrind", action="store_true",
                    help="under `valgrind --tool=callgrind --instr-atstart=no`: count instructions of the settlements "
                         "only (a figure a busy machine does not skew)")
    args = ap.parse_args()
    results = asyncio.run(rounds(args))
    print(f"best {min(results):.1f} us CPU per settlement (median {sorted(results)[len(results) // 2]:.1f}) of "
          f"{args.rounds} rounds; code {Path(harness.__file__).parent.parent}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
