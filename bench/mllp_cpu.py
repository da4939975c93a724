#!/usr/bin/env python3
"""CPU per message of the MLLP mocks without sockets: µs of this process's CPU time per order answered.

The mock LIS (`--interface lis`: OML^O21 orders, each validated against contracts/lis/2024.1, kept in its store
and answered ORL^O22) or the mock PACS (`--interface pacs`: OMI^O23 imaging orders) as `create_mock` makes it,
journal on, fed frames through the server's connection protocol (`MllpServer.protocol`; on a checkout without it,
the stream entry `MllpServer.__call__`) with an in-memory transport: everything a message costs the serving
process except the socket calls and the event loop's polling. One frame per `data_received`, as a client with one
message in flight per connection delivers them. Every reply is checked (MSA-1 AA, MSA-2 the MSH-10 sent).
Times are CPU seconds of this process, so other load on the machine skews them less than a socket benchmark;
best of `--rounds` rounds of `--messages` (the journal and store fill as they would in a long run; the
collector's long-lived objects are frozen between rounds, as `hih mock serve` does every second).

    .venv/bin/python bench/mllp_cpu.py                        # mock LIS, 5 rounds of 4,000 orders
    .venv/bin/python bench/mllp_cpu.py --interface pacs
    PYTHONPATH=/tmp/base .venv/bin/python /tmp/base/bench/mllp_cpu.py   # another commit, from `git archive`
    .venv/bin/python bench/mllp_cpu.py --profile /tmp/lis.prof          # cProfile of one round
    .venv/bin/python bench/mllp_cpu.py --shared                         # with the store each --workers process has
    .venv/bin/python bench/mllp_cpu.py --workers 2                      # two workers' mocks on one state, in turn
    .venv/bin/python bench/mllp_cpu.py --gc                             # also the garbage collector's share

`--workers N` plays what `hih mock serve --workers N` does in one process: N mocks, each with its worker's store on
one state file (`share` called as a worker calls it), the orders dealt to them in turns of `--per-turn` (each
worker's loop turning between them), so each also catches up with what the others kept. CPU per order over all.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import platform
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.contract.loader import ContractStore  # noqa: E402
from mocks.registry import create_mock  # noqa: E402

SB, END = b"\x0b", b"\x1c\r"
ORDERS = {
    "lis": ("MSH|^~\\&|HIS|HOSP|LIS|LAB|{T}||OML^O21^OML_O21|{C}|P|2.5.1|||||CHN|UNICODE UTF-8",
            "PID|1||0001234567^^^HOSP^MR~110101199003071234^^^CHN^NNCHN||张三||19900307|M",
            "PV1|1|O|NEI^101^3||||||||||||||||V20240105001",
            "ORC|NW|{C}|||||||20240105080000|||D001^李医生",
            "TQ1|1||||||20240105083000|||R",
            "OBR|1|{C}||CBC^血常规^L||||||||||||D001^李医生",
            "SPM|1|S20240105001||BLD^全血|||||||||||||20240105075500"),
    "pacs": ("MSH|^~\\&|HIS|HOSP|PACS|RIS|{T}||OMI^O23^OMI_O23|{C}|P|2.5.1|||||CHN|UNICODE UTF-8",
             "PID|1||0001234567^^^HOSP^MR~110101199003071234^^^CHN^NNCHN||张三||19900307|M",
             "PV1|1|O|CT^201^1||||||||||||||||V20240105001",
             "ORC|NW|{C}|||||||20240105080000|||D001^李医生",
             "TQ1|1||||||20240105083000|||R",
             "OBR|1|{C}||CT001^胸部CT平扫^L|||||||||咳嗽两周|||D001^李医生",
             "IPC|ACC{C}|RP{C}|1.2.156.112605.14038013507.9{C}|SPS001|CT"),
}
"""One order per interface (valid against its 2024.1 contract); `{C}` is the control id and the placer number, `{T}`
MSH-7 (now, as a hospital's sender stamps it: the mocks check it against their clock)."""


class MemoryTransport:
    """What the connection writes to, kept in memory."""

    def __init__(self) -> None:
        self.out: list[bytes] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.out.append(data)

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = True

    def get_write_buffer_size(self) -> int:
        return 0

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        return None

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 40000) if name == "peername" else default

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        return None

    def pause_reading(self) -> None:
        return None

    def resume_reading(self) -> None:
        return None


def frames(interface: str, start: int, count: int) -> list[tuple[bytes, bytes]]:
    text = ("\r".join(ORDERS[interface]) + "\r").replace("{T}", time.strftime("%Y%m%d%H%M%S")).encode("utf-8")
    out = []
    for n in range(start, start + count):
        control = b"%010d" % (n + 1)
        out.append((control, SB + text.replace(b"{C}", control) + END))
    return out


def check(replies: list[bytes], sent: list[tuple[bytes, bytes]]) -> None:
    if len(replies) != len(sent):
        raise SystemExit(f"{len(replies)} replies to {len(sent)} messages")
    for reply, (control, _) in zip(replies, sent, strict=True):
        msa = reply[reply.find(b"\rMSA|") + 1 :].split(b"\r", 1)[0].split(b"|")
        if len(msa) < 3 or msa[1] != b"AA" or msa[2] != control:
            raise SystemExit(f"bad reply to {control!r}: {reply[:300]!r}")


async def round_protocol(server: Any, batch: list[tuple[bytes, bytes]], per_turn: int = 0) -> list[bytes]:
    """One connection carrying `batch`; with `per_turn`, the event loop turns after that many messages (a shared
    store logs its writes once a turn)."""
    transport = MemoryTransport()
    conn = server.protocol()
    conn.connection_made(transport)
    for number, (_, frame) in enumerate(batch, 1):
        conn.data_received(frame)
        if per_turn and number % per_turn == 0:
            await asyncio.sleep(0)
    conn.connection_lost(None)
    await asyncio.sleep(0)
    return transport.out


async def round_workers(servers: list[Any], batch: list[tuple[bytes, bytes]], per_turn: int) -> list[bytes]:
    """`batch` dealt to the workers' servers (one connection each) in turns of `per_turn` orders; the replies in the
    order of `batch`."""
    transports = [MemoryTransport() for _ in servers]
    conns = [server.protocol() for server in servers]
    for conn, transport in zip(conns, transports, strict=True):
        conn.connection_made(transport)
    replies = []
    for start in range(0, len(batch), per_turn):
        worker = (start // per_turn) % len(servers)
        for _, frame in batch[start : start + per_turn]:
            conns[worker].data_received(frame)
        replies.extend(transports[worker].out)
        transports[worker].out.clear()
        await asyncio.sleep(0)
    for conn in conns:
        conn.connection_lost(None)
    await asyncio.sleep(0)
    return replies


async def round_streams(server: Any, batch: list[tuple[bytes, bytes]]) -> list[bytes]:
    """The same for a checkout whose server is a stream handler only."""
    transport = MemoryTransport()

    class Writer:
        """The face of asyncio.StreamWriter the stream entry uses, over the same memory transport."""

        def __init__(self) -> None:
            self.transport = transport
            self.write, self.is_closing, self.close = transport.write, transport.is_closing, transport.close
            self.can_write_eof, self.write_eof = transport.can_write_eof, transport.write_eof
            self.get_extra_info = transport.get_extra_info

        async def drain(self) -> None:
            return None

        async def wait_closed(self) -> None:
            return None

    reader = asyncio.StreamReader(limit=2**16)

    async def feed() -> None:
        for _, frame in batch:
            reader.feed_data(frame)
            await asyncio.sleep(0)
        reader.feed_eof()

    feeding = asyncio.ensure_future(feed())
    await server(reader, Writer())
    await feeding
    return transport.out


class _CollectorClock:
    """CPU time of the garbage collector's passes while `running` (a gc callback at each pass's start and end)."""

    def __init__(self) -> None:
        self.running = False
        self.seconds = 0.0
        self.passes = [0, 0, 0]
        self._started = 0.0
        gc.callbacks.append(self._tick)

    def _tick(self, phase: str, info: dict[str, Any]) -> None:
        if not self.running:
            return
        if phase == "start":
            self._started = time.process_time()
        else:
            self.seconds += time.process_time() - self._started
            self.passes[info["generation"]] += 1

    def stop(self) -> None:
        gc.callbacks.remove(self._tick)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--interface", choices=sorted(ORDERS), default="lis")
    ap.add_argument("--messages", type=int, default=4000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--shared", action="store_true",
                    help="the store `hih mock serve --workers` gives each worker (a SQLite file in a scratch folder)")
    ap.add_argument("--workers", type=int, default=1,
                    help="mocks sharing one state as --workers processes do (implies --shared), orders dealt in turns")
    ap.add_argument("--per-turn", type=int, default=0,
                    help="messages between two turns of the event loop (default: none within a round; 4 with --shared)")
    ap.add_argument("--profile", type=Path, help="write a cProfile of one more round here")
    ap.add_argument("--gc", action="store_true",
                    help="also report the CPU time the garbage collector's passes took per order (gc.callbacks), "
                         "over all measured rounds: the cost of the objects an order leaves behind")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    contract = ContractStore().load(a.interface, "2024.1")
    scratch = tempfile.TemporaryDirectory(prefix="hih-mllp-cpu-")
    mocks: list[Any] = []
    if a.shared or a.workers > 1:
        from mocks.registry import mock_class
        from mocks.shared_state import SharedSqliteStore

        kind = mock_class(a.interface)
        store_class = getattr(kind, "shared_store", SharedSqliteStore)
        state = Path(scratch.name) / "state.sqlite"
        for index in range(a.workers):
            placed = {"worker": (index, a.workers)} if getattr(store_class, "per_worker", False) else {}
            mocks.append(kind(contract, store_class(state, durable=False, **placed)))
            mocks[-1].share(index, a.workers, state)
            mocks[-1].limit_state(50_000)
        a.per_turn = a.per_turn or 4
    else:
        store_class = None
        mocks.append(create_mock(contract))
    mock = mocks[0]
    for each in mocks:
        each.validator.warm()
    server = mock.server
    turns = {"per_turn": a.per_turn} if a.per_turn else {}
    if len(mocks) > 1:
        entry: Any = partial(round_workers, [m.server for m in mocks], per_turn=a.per_turn)
    elif hasattr(server, "protocol"):
        entry = partial(round_protocol, server, per_turn=a.per_turn)
    else:
        entry = partial(round_streams, server)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.run_until_complete(entry(frames(a.interface, 0, 200)))  # first-use compilation out of the way
    rounds = []
    collector = _CollectorClock() if a.gc else None
    for number in range(1, a.rounds + 1):
        batch = frames(a.interface, number * a.messages, a.messages)
        gc.collect()
        gc.freeze()
        if collector is not None:
            collector.running = True
        start = time.process_time()
        replies = loop.run_until_complete(entry(batch))
        rounds.append((time.process_time() - start) / a.messages * 1e6)
        if collector is not None:
            collector.running = False
        check(replies, batch)
    flagged = [e for m in mocks for e in m.journal.entries()[-a.messages:] if not e.request_valid]
    if flagged:
        raise SystemExit(f"{len(flagged)} orders journaled with errors, e.g. {[str(f) for f in flagged[0].request_findings]}")
    if a.profile:
        import cProfile

        batch = frames(a.interface, (a.rounds + 1) * a.messages, a.messages)
        cProfile.runctx("loop.run_until_complete(entry(batch))", globals(), locals(), str(a.profile))
    best = min(rounds)
    name = "protocol" if hasattr(server, "protocol") else "streams"
    kept = f"; store {store_class.__name__}" if store_class is not None else ""
    print(f"{a.interface}: {best:.1f} µs CPU per order (best of {a.rounds} rounds of {a.messages:,}; "
          f"rounds {', '.join(f'{r:.1f}' for r in rounds)}); {1e6 / best:,.0f} orders per CPU second; "
          f"entry {name}{kept}{f'; loop turns every {a.per_turn}' if a.per_turn else ''}"
          f"{f'; {a.workers} workers' if a.workers > 1 else ''}")
    if collector is not None:
        collector.stop()
        passes = "/".join(str(n) for n in collector.passes)
        print(f"garbage collector: {collector.seconds / (a.rounds * a.messages) * 1e6:.1f} µs CPU per order "
              f"(passes of generation 0/1/2: {passes} in {a.rounds} rounds)")
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps({"interface": a.interface, "python": platform.python_version(),
                                      "messages": a.messages, "rounds_us": rounds, "best_us": best, "entry": name,
                                      "store": store_class.__name__ if store_class is not None else "memory",
                                      "workers": a.workers, **turns}, indent=2))
    for each in mocks:
        each.store.close()
    scratch.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
