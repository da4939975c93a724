#!/usr/bin/env python3
"""Where a served SOAP mock's call goes, in process: the mock set up as one `hih mock serve --workers 2` worker
(the shared SQLite store with its commit counters, the worker's number stride, its journal) and its ASGI app
driven directly (no socket, no HTTP parser), one call at a time; every reply checked (HTTP 200, ResultCode 0).

Prints CPU microseconds per call (process time over the calls, after a warm-up), and with `--profile` the
functions that took it (cProfile: `--sort tottime` or `cumulative`). CPU time moves with other load on a shared
machine; compare commits back to back, or use `bench/soap_instructions.py` (instructions, over the wire).

    .venv/bin/python bench/soap_profile.py --interface mch-platform --calls 3000
    .venv/bin/python bench/soap_profile.py --interface blood-center --calls 3000 --profile --top 40
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import itertools
import pstats
import resource
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.blood_center_load import HEAD, ORDER  # noqa: E402
from bench.mch_load import OK, OPEN, _record  # noqa: E402
from mocks.mch_platform import TEST_ORG_CODE, TEST_PASSWORD  # noqa: E402

Call = Callable[[], tuple[int, bytes]]


LOOP = asyncio.new_event_loop()
CONCURRENT = 1
"""Calls sent together (as requests of several connections arriving in one turn of a worker's loop)."""


def _app_call(app: Any, path: str, action: str) -> Callable[[bytes], tuple[int, bytes]]:
    """A function posting an envelope to the ASGI app `app` and giving (status, body); with CONCURRENT > 1 it posts
    that many at once and gives the worst."""
    def call(envelope: bytes) -> tuple[int, bytes]:
        if CONCURRENT == 1 or next_envelope is None:  # a single call (the platform's login)
            return LOOP.run_until_complete(one(envelope))
        answers = LOOP.run_until_complete(together(envelope))
        return next((a for a in answers if a[0] != 200 or OK not in a[1]), answers[0])

    next_envelope: Callable[[], bytes] | None = None  # the next calls' envelopes: set by `more`

    async def together(envelope: bytes) -> list[tuple[int, bytes]]:
        assert next_envelope is not None
        return list(await asyncio.gather(one(envelope), *(one(next_envelope()) for _ in range(CONCURRENT - 1))))

    async def one(envelope: bytes) -> tuple[int, bytes]:
        sent: list[dict[str, Any]] = []
        messages = iter([{"type": "http.request", "body": envelope, "more_body": False}])

        async def receive() -> dict[str, Any]:
            return next(messages, {"type": "http.disconnect"})

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": path, "query_string": b"", "client": ("127.0.0.1", 1),
                 "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"text/xml; charset=utf-8"),
                             (b"soapaction", f'"{action}"'.encode()), (b"content-length", str(len(envelope)).encode())]}
        await app(scope, receive, send)
        return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])

    def more(build: Callable[[], bytes]) -> None:
        nonlocal next_envelope
        next_envelope = build

    call.more = more  # type: ignore[attr-defined]
    return call


def setup(interface: str, folder: Path) -> tuple[Any, Call]:
    """The mock as a worker sets it up, and the next call of the measured operation."""
    from harness.contract.loader import ContractStore
    from mocks.registry import mock_class

    state = folder / "state.sqlite"
    kind = mock_class(interface)
    shared: Any = getattr(kind, "shared_store", None)  # the store a `--workers` worker gives this mock
    store = shared(state, durable=False)
    mock = kind(ContractStore().load(interface), store)
    mock.share(0, 2, state)
    app = mock.asgi_app()
    numbers = itertools.count(1)
    if interface == "blood-center":
        post = _app_call(app, "/BloodCenterService", "urn:hih:blood-center:SubmitBloodOrder")

        def order() -> bytes:
            return (HEAD + ORDER.format(no=f"B{next(numbers):011d}") + "</s:Body></s:Envelope>").encode()

        post.more(order)  # type: ignore[attr-defined]
        return mock, lambda: post(order())
    login = _app_call(app, "/MchPlatformService", "urn:hih:mch:Login")
    answer = login((f"{OPEN}<s:Body><t:Login><t:orgCode>{TEST_ORG_CODE}</t:orgCode><t:password>{TEST_PASSWORD}"
                    "</t:password></t:Login></s:Body></s:Envelope>").encode())[1]
    key = answer.split(b"<ns0:sessionKey>")[1].split(b"<")[0].decode()
    head = (f"{OPEN}<s:Header><t:SessionHeader><t:orgCode>{TEST_ORG_CODE}</t:orgCode><t:sessionKey>{key}</t:sessionKey>"
            "</t:SessionHeader></s:Header><s:Body>")
    template = escape(_record("W{no:09d}"))
    post = _app_call(app, "/MchPlatformService", "urn:hih:mch:UploadRecord")

    def upload() -> bytes:
        return (f"{head}<t:UploadRecord><t:recordType>DELIVERY</t:recordType><t:payload>"
                f"{template.format(no=next(numbers))}</t:payload></t:UploadRecord></s:Body></s:Envelope>").encode()

    post.more(upload)  # type: ignore[attr-defined]
    return mock, lambda: post(upload())


def run(call: Call, calls: int) -> int:
    bad = 0
    for n in range(calls):
        if n % 500 == 0:
            gc.freeze()  # as a serving worker does every second: long-lived state out of the collector's walks
        status, body = call()
        bad += status != 200 or OK not in body
    return bad


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--interface", choices=("blood-center", "mch-platform"), default="mch-platform")
    ap.add_argument("--calls", type=int, default=3000)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3, help="timed rounds; the best is reported")
    ap.add_argument("--concurrent", type=int, default=1, help="calls sent together (one turn of the loop)")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--sort", default="tottime")
    ap.add_argument("--top", type=int, default=35)
    a = ap.parse_args()
    global CONCURRENT
    CONCURRENT = a.concurrent
    with tempfile.TemporaryDirectory(prefix="hih-soap-profile-") as folder:
        mock, call = setup(a.interface, Path(folder))
        mock.journal = type(mock.journal)(1000)
        if run(call, a.warmup):
            raise SystemExit("warm-up replies were not HTTP 200 with ResultCode 0")
        best = (float("inf"), 0.0, 0.0)
        for _ in range(a.rounds):
            before = resource.getrusage(resource.RUSAGE_SELF)
            bad = run(call, a.calls)
            after = resource.getrusage(resource.RUSAGE_SELF)
            calls = a.calls * a.concurrent
            user, system = (after.ru_utime - before.ru_utime) / calls, (after.ru_stime - before.ru_stime) / calls
            best = min(best, (user + system, user, system))
            if bad:
                raise SystemExit(f"{bad} replies were not HTTP 200 with ResultCode 0")
        print(f"{a.interface}: {best[0] * 1e6:,.1f} µs CPU per call (user {best[1] * 1e6:,.1f} + system "
              f"{best[2] * 1e6:,.1f}; best of {a.rounds} rounds of {a.calls} x {a.concurrent} calls at once)")
        windows = getattr(mock.store, "windows", 0)
        if windows:
            print(f"commit window: {mock.store.windowed / windows:.1f} calls per commit")
        if a.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            run(call, a.calls)
            profiler.disable()
            pstats.Stats(profiler).sort_stats(a.sort).print_stats(a.top)
        mock.store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
